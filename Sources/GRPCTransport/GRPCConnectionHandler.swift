import GRPCCore
import NIOCore
import NIOHPACK
import NIOHTTP2

/// Serves gRPC calls with one request message (unary and server-streaming) on one HTTP/2
/// connection, straight from its frames.
///
/// It sits after `NIOHTTP2Handler` (which does framing, HPACK, settings, pings, the stream
/// states and outbound flow control) and its connection manager (idle and graceful close). Each
/// stream collects its one request message; when the client ends the stream, the request is
/// decoded and the method runs as a task. A unary response is written as three frames; a
/// stream's responses one DATA frame each, the sender waiting for each write. There is no
/// channel per stream and no async sequence per call: grpc-swift's general server made every
/// call cost about 0.3 ms of CPU on this path.
///
/// A message over `maxRequestBytes` is answered RESOURCE_EXHAUSTED as soon as its prefix arrives,
/// before the rest of it is buffered. Request bytes buffered before their calls run are bounded
/// per connection and across all of them (`RequestBudget`); a request that would go over is
/// answered RESOURCE_EXHAUSTED and its bytes dropped. A request whose message has not arrived
/// within `requestBodyTimeout` is answered DEADLINE_EXCEEDED; a connection that has started no
/// call for `stalledConnectionTimeout` and runs none is closed, so that clients that never
/// finish a request cannot keep the connection slots. A call ends early when its
/// `grpc-timeout` passes (DEADLINE_EXCEEDED) or the client resets its stream or goes away (its
/// task is cancelled).
final class GRPCConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    let methods: GRPCMethodTable
    let limits: ConnectionLimits
    let budget: RequestBudget
    let hooks: GRPCServerHooks
    let localPeer: String
    var maxRequestBytes: Int { limits.maxRequestBytes }
    /// Request bytes this connection holds for calls that have not started.
    var buffered = 0
    /// When this connection last started a call (or opened).
    var lastStart = NIODeadline.now()
    private var stallCheck: RepeatedTask?
    /// The event loop's clock (a test's loop runs on its own time).
    var loopNow: () -> NIODeadline = { .now() }

    /// A call whose status has not been written yet.
    struct Call {
        var method: GRPCMethodTable.Method?
        var path: String
        var timeout: TimeAmount?
        var body: ByteBuffer?
        var task: Task<Void, Never>?
        var deadline: Scheduled<Void>?
        /// Fires when the request message takes longer than `requestBodyTimeout`.
        var bodyTimer: Scheduled<Void>?
        /// The bytes of `body` counted against this connection and the budget.
        var reserved = 0
        /// What the call log names the call by, once its request is decoded.
        var subject = ""
        /// When its request was complete (the start of what observers are told it took).
        var started: ContinuousClock.Instant?
        /// The body's `ServerContext.cancellation`, triggered when the call ends early.
        var cancellation: ServerContext.RPCCancellationHandle?
        /// A streaming response's opening headers are out.
        var headersSent = false
    }

    var calls: [HTTP2StreamID: Call] = [:]
    /// The connection's event loop as a task executor, for the methods that run on it.
    var executor: EventLoopTaskExecutor?
    /// The newest stream a call was opened on: a late frame of an answered call opens nothing.
    private var lastOpened = HTTP2StreamID.rootStream
    var needsFlush = false
    var reading = false

    /// The connection's flow-control window for request bytes, HTTP/2's initial 64 KiB. It is
    /// reopened to this once half of it is used, as NIOHTTP2's own window manager does.
    static let connectionWindow = 65_535

    init(methods: GRPCMethodTable, limits: ConnectionLimits, budget: RequestBudget, hooks: GRPCServerHooks = GRPCServerHooks(), localPeer: String) {
        self.methods = methods
        self.limits = limits
        self.budget = budget
        self.hooks = hooks
        self.localPeer = localPeer
    }

    func handlerAdded(context: ChannelHandlerContext) {
        executor = EventLoopTaskExecutor(context.eventLoop)
        loopNow = { [loop = context.eventLoop] in loop.now }
        lastStart = loopNow()
        let stalled = TimeAmount(limits.stalledConnectionTimeout)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let channel = context.channel
        stallCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: stalled, delay: .nanoseconds(stalled.nanoseconds / 4)) { _ in
            if handler.value.isStalled(after: stalled) { channel.close(promise: nil) }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stallCheck?.cancel()
        for id in Array(calls.keys) { abandon(id) }
    }

    /// Started no call for `timeout` and runs none: only unfinished requests, or nothing at
    /// all since it opened.
    private func isStalled(after timeout: TimeAmount) -> Bool {
        guard loopNow() - lastStart >= timeout else { return false }
        return !calls.values.contains { $0.task != nil }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reading = true
        let frame = unwrapInboundIn(data)
        let id = frame.streamID
        switch frame.payload {
        case .headers(let headers):
            if calls[id] == nil, id > lastOpened {
                lastOpened = id
                open(id, headers: headers.headers, clientEnded: headers.endStream, context: context)
            }
            if headers.endStream { dispatch(id, context: context) }
        case .data(let payload):
            guard case .byteBuffer(var bytes) = payload.data else { break }
            guard calls[id] != nil, calls[id]!.task == nil else { break }
            guard reserve(bytes.readableBytes, for: id) else {
                let message = "request bytes waiting on this connection (\(limits.maxBufferedBytesPerConnection) at most) or on all (\(budget.limit)) would exceed their bound"
                reject(id, RPCError(code: .resourceExhausted, message: message), clientEnded: payload.endStream, context: context)
                break
            }
            if calls[id]!.body == nil {
                calls[id]!.body = bytes
            } else {
                calls[id]!.body!.writeBuffer(&bytes)
            }
            if checkSize(id, clientEnded: payload.endStream, context: context), payload.endStream {
                dispatch(id, context: context)
            }
        case .rstStream:
            abandon(id)
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        reading = false
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let closed = event as? StreamClosedEvent {
            abandon(closed.streamID)
        } else if let window = event as? NIOHTTP2WindowUpdatedEvent, window.streamID == .rootStream,
                  let size = window.inboundWindowSize {
            reopenConnectionWindow(from: size, context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        for id in Array(calls.keys) { abandon(id) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A stream's protocol error resets that stream (NIOHTTP2 already did); anything else
        // leaves the connection in an unknown state.
        if !(error is NIOHTTP2Errors.StreamError) {
            context.close(promise: nil)
        }
    }

    // MARK: - Requests

    func open(_ id: HTTP2StreamID, headers: HPACKHeaders, clientEnded: Bool, context: ChannelHandlerContext) {
        let path = headers.first(name: ":path") ?? ""
        calls[id] = Call(method: methods.method(atPath: path[...]), path: path)
        // grpc-swift's rule: these two exactly, else HTTP 415 and no gRPC status.
        guard let type = headers.first(name: "content-type"), type == "application/grpc" || type == "application/grpc+proto" else {
            return reject(id, status: "415", clientEnded: clientEnded, context: context)
        }
        guard headers.first(name: ":method") == "POST" else {
            return reject(id, RPCError(code: .unimplemented, message: "gRPC calls are POST requests"), clientEnded: clientEnded, context: context)
        }
        if let encoding = headers.first(name: "grpc-encoding"), encoding != "identity" {
            return reject(id, RPCError(code: .unimplemented, message: "compression \(encoding) is not supported"), clientEnded: clientEnded, context: context)
        }
        if let value = headers.first(name: "grpc-timeout") {
            guard let timeout = GRPCWireFormat.timeout(value) else {
                return reject(id, RPCError(code: .internalError, message: "invalid grpc-timeout \(value)"), clientEnded: clientEnded, context: context)
            }
            calls[id]!.timeout = timeout
        }
        if !clientEnded {
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            let limit = limits.requestBodyTimeout
            calls[id]!.bodyTimer = context.eventLoop.scheduleTask(in: TimeAmount(limit)) {
                guard let call = handler.value.calls[id], call.task == nil else { return }
                let error = RPCError(code: .deadlineExceeded, message: "the request message did not arrive within \(limit)")
                handler.value.reject(id, error, clientEnded: false, context: boundContext.value)
            }
        }
    }

    /// Counts `count` more request bytes for call `id` against the connection's bound and the
    /// shared budget; false, with nothing counted, when either would be exceeded.
    func reserve(_ count: Int, for id: HTTP2StreamID) -> Bool {
        guard buffered + count <= limits.maxBufferedBytesPerConnection, budget.reserve(count) else { return false }
        buffered += count
        calls[id]!.reserved += count
        return true
    }

    /// Gives back the bytes `call` had counted.
    func release(_ call: Call) {
        guard call.reserved > 0 else { return }
        buffered -= call.reserved
        budget.release(call.reserved)
    }

    /// Whether the call's message so far is within limits; answers it when it is not.
    func checkSize(_ id: HTTP2StreamID, clientEnded: Bool, context: ChannelHandlerContext) -> Bool {
        guard let body = calls[id]?.body, let prefix = GRPCWireFormat.prefix(of: body) else { return true }
        if prefix.compressed {
            reject(id, RPCError(code: .internalError, message: "the request message is compressed without a grpc-encoding"), clientEnded: clientEnded, context: context)
            return false
        }
        if prefix.length > maxRequestBytes {
            let message = "request message of \(prefix.length) bytes exceeds the limit of \(maxRequestBytes) bytes (volume ids, secrets and contexts must fit in it)"
            reject(id, RPCError(code: .resourceExhausted, message: message), clientEnded: clientEnded, context: context)
            return false
        }
        if body.readableBytes > GRPCWireFormat.prefixLength + prefix.length {
            reject(id, RPCError(code: .internalError, message: "more than one request message for a unary method"), clientEnded: clientEnded, context: context)
            return false
        }
        return true
    }
}
