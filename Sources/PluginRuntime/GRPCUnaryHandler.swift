import GRPCCore
import CSIServices
import NIOCore
import NIOHPACK
import NIOHTTP2

/// Serves unary gRPC calls on one HTTP/2 connection, straight from its frames.
///
/// It sits after `NIOHTTP2Handler` (which does framing, HPACK, settings, pings and the stream
/// states) and its connection manager (idle and graceful close). Each stream collects its one
/// request message; when the client ends the stream, the method runs as a task and its response
/// is written as three frames. There is no channel per stream and no async sequence per call:
/// grpc-swift's general server made every call cost about 0.3 ms of CPU on this path, which CSI's
/// unary-only methods do not need.
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
final class GRPCUnaryHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private let methods: GRPCMethodTable
    private let limits: ConnectionLimits
    private let budget: RequestBudget
    private let localPeer: String
    private var maxRequestBytes: Int { limits.maxRequestBytes }
    /// Request bytes this connection holds for calls that have not started.
    private var buffered = 0
    /// When this connection last started a call (or opened).
    private var lastStart = NIODeadline.now()
    private var stallCheck: RepeatedTask?
    /// The event loop's clock (a test's loop runs on its own time).
    private var loopNow: () -> NIODeadline = { .now() }

    /// A call whose response has not been written yet.
    private struct Call {
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
    }

    private var calls: [HTTP2StreamID: Call] = [:]
    /// The connection's event loop as a task executor, for the methods that run on it.
    private var executor: EventLoopTaskExecutor?
    /// The newest stream a call was opened on: a late frame of an answered call opens nothing.
    private var lastOpened = HTTP2StreamID.rootStream
    private var needsFlush = false
    private var reading = false

    /// The connection's flow-control window for request bytes, HTTP/2's initial 64 KiB. It is
    /// reopened to this once half of it is used, as NIOHTTP2's own window manager does.
    static let connectionWindow = 65_535

    init(methods: GRPCMethodTable, limits: ConnectionLimits, budget: RequestBudget, localPeer: String) {
        self.methods = methods
        self.limits = limits
        self.budget = budget
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

    private func open(_ id: HTTP2StreamID, headers: HPACKHeaders, clientEnded: Bool, context: ChannelHandlerContext) {
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
    private func reserve(_ count: Int, for id: HTTP2StreamID) -> Bool {
        guard buffered + count <= limits.maxBufferedBytesPerConnection, budget.reserve(count) else { return false }
        buffered += count
        calls[id]!.reserved += count
        return true
    }

    /// Gives back the bytes `call` had counted.
    private func release(_ call: Call) {
        guard call.reserved > 0 else { return }
        buffered -= call.reserved
        budget.release(call.reserved)
    }

    /// Whether the call's message so far is within limits; answers it when it is not.
    private func checkSize(_ id: HTTP2StreamID, clientEnded: Bool, context: ChannelHandlerContext) -> Bool {
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

    /// Runs the call once its request has ended.
    private func dispatch(_ id: HTTP2StreamID, context: ChannelHandlerContext) {
        guard let call = calls[id] else { return }
        guard let method = call.method else {
            return reject(id, RPCError(code: .unimplemented, message: "method \(call.path) is not implemented by this plugin"), clientEnded: true, context: context)
        }
        guard var body = call.body, let prefix = GRPCWireFormat.prefix(of: body),
              body.readableBytes == GRPCWireFormat.prefixLength + prefix.length else {
            return reject(id, RPCError(code: .internalError, message: "the request ended without a complete message"), clientEnded: true, context: context)
        }
        body.moveReaderIndex(forwardBy: GRPCWireFormat.prefixLength)
        let request = body.readBytes(length: prefix.length) ?? []
        release(call)
        calls[id]!.reserved = 0
        calls[id]!.bodyTimer?.cancel()
        calls[id]!.bodyTimer = nil
        lastStart = loopNow()
        let serverContext = ServerContext(
            descriptor: method.descriptor, remotePeer: "unix:", localPeer: localPeer,
            cancellation: ServerContext.RPCCancellationHandle()
        )
        let loop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: loop)
        let boundContext = NIOLoopBound(context, eventLoop: loop)
        let handle = method.handle
        calls[id]!.body = nil
        calls[id]!.task = Task(executorPreference: method.runsOnEventLoop ? executor : nil) {
            let result: Result<[UInt8], RPCError>
            do {
                result = .success(try await handle(request, serverContext))
            } catch {
                result = .failure(RPCError(mapping: error))
            }
            if loop.inEventLoop {
                handler.value.respond(id, result, context: boundContext.value)
            } else {
                loop.execute {
                    handler.value.respond(id, result, context: boundContext.value)
                }
            }
        }
        if let timeout = call.timeout {
            calls[id]!.deadline = loop.scheduleTask(in: timeout) {
                let handler = handler.value
                guard let task = handler.calls[id]?.task else { return }
                task.cancel()
                handler.respond(id, .failure(RPCError(code: .deadlineExceeded, message: "the call's deadline passed")), context: boundContext.value)
            }
        }
    }

    // MARK: - Responses

    private func respond(_ id: HTTP2StreamID, _ result: Result<[UInt8], RPCError>, context: ChannelHandlerContext) {
        guard let call = calls.removeValue(forKey: id) else { return }
        forget(call)
        switch result {
        case .success(let message):
            let data = GRPCWireFormat.framed(message, allocator: context.channel.allocator)
            context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: GRPCWireFormat.responseHeaders)))), promise: nil)
            context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(data))))), promise: nil)
            context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: GRPCWireFormat.okTrailers, endStream: true)))), promise: nil)
        case .failure(let error):
            let headers = GRPCWireFormat.trailersOnly(error)
            context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: headers, endStream: true)))), promise: nil)
        }
        flush(context)
    }

    /// Answers a call that will not run, and stops the rest of its request (RFC 9113 §8.1: a
    /// complete response, then RST_STREAM with NO_ERROR).
    private func reject(_ id: HTTP2StreamID, _ error: RPCError, clientEnded: Bool, context: ChannelHandlerContext) {
        guard calls[id] != nil else { return }
        respond(id, .failure(error), context: context)
        stopRequest(id, clientEnded: clientEnded, context: context)
    }

    /// Answers a request that is not gRPC at all with a bare HTTP status (415 for another
    /// content-type, as grpc-swift's server answers).
    private func reject(_ id: HTTP2StreamID, status: String, clientEnded: Bool, context: ChannelHandlerContext) {
        guard let call = calls.removeValue(forKey: id) else { return }
        forget(call)
        let headers: HPACKHeaders = [":status": status]
        context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: headers, endStream: true)))), promise: nil)
        flush(context)
        stopRequest(id, clientEnded: clientEnded, context: context)
    }

    /// Cancels a call's timers and gives back its buffered bytes.
    private func forget(_ call: Call) {
        call.deadline?.cancel()
        call.bodyTimer?.cancel()
        release(call)
    }

    /// RST_STREAM(NO_ERROR) after the answer, when the client is still sending.
    private func stopRequest(_ id: HTTP2StreamID, clientEnded: Bool, context: ChannelHandlerContext) {
        if !clientEnded {
            context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .rstStream(.noError))), promise: nil)
            flush(context)
        }
    }

    /// Forgets a call whose stream is gone; its task, if running, is cancelled.
    private func abandon(_ id: HTTP2StreamID) {
        guard let call = calls.removeValue(forKey: id) else { return }
        forget(call)
        call.task?.cancel()
    }

    /// Reopens the connection's flow-control window once half of it is used. NIOHTTP2 reports
    /// the window after every DATA frame, also those of streams already reset (which it drops
    /// and never passes on): counting only the frames this handler sees would leak the window
    /// until the connection stalled.
    private func reopenConnectionWindow(from size: Int, context: ChannelHandlerContext) {
        guard size <= Self.connectionWindow / 2 else { return }
        let increment = Self.connectionWindow - size
        context.write(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: increment))), promise: nil)
        flush(context)
    }

    /// Flushes now, or at the end of the current read burst.
    private func flush(_ context: ChannelHandlerContext) {
        if reading {
            needsFlush = true
        } else {
            context.flush()
        }
    }
}
