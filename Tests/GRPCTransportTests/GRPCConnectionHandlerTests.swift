import GRPCCore
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import SwiftProtobuf
import Synchronization
import Testing

@testable import GRPCTransport

/// The server's frame-level handler, fed HTTP/2 frames as NIOHTTP2 would deliver them.
@Suite struct GRPCConnectionHandlerTests {
    /// A test method shaped like CSI's Probe: an empty request, a boolean answer.
    static let probe = MethodDescriptor(fullyQualifiedService: "test.Identity", method: "Probe")
    static let probePath = "/test.Identity/Probe"
    static let stream = HTTP2StreamID(1)

    /// A channel with the handler over `methods`, limited to `maxRequestBytes` per message.
    static func channel(_ methods: GRPCMethodTable, maxRequestBytes: Int = 1024) async throws -> NIOAsyncTestingChannel {
        try await channel(methods, limits: ConnectionLimits(maxRequestBytes: maxRequestBytes))
    }

    /// A channel with the handler over `methods` under `limits`, sharing `budget`.
    static func channel(_ methods: GRPCMethodTable, limits: ConnectionLimits, budget: RequestBudget? = nil) async throws -> NIOAsyncTestingChannel {
        let budget = budget ?? RequestBudget(limit: limits.maxBufferedBytes)
        return try await NIOAsyncTestingChannel { channel in
            try channel.pipeline.syncOperations.addHandler(GRPCConnectionHandler(methods: methods, limits: limits, budget: budget, localPeer: "unix:/test"))
        }
    }

    /// A table whose Probe answers `ready` after `body` returns.
    static func probeTable(_ body: @escaping @Sendable () async throws -> Void = {}) -> GRPCMethodTable {
        var table = GRPCMethodTable()
        table.add(probe) { (_: Google_Protobuf_Empty, _) in
            try await body()
            return Google_Protobuf_BoolValue.with { $0.value = true }
        }
        return table
    }

    static func headers(path: String = probePath, timeout: String? = nil, endStream: Bool = false, stream: HTTP2StreamID = stream) -> HTTP2Frame {
        var headers: HPACKHeaders = [":method": "POST", ":scheme": "http", ":path": path, "content-type": "application/grpc", "te": "trailers"]
        if let timeout { headers.add(name: "grpc-timeout", value: timeout) }
        return HTTP2Frame(streamID: stream, payload: .headers(.init(headers: headers, endStream: endStream)))
    }

    static func data(_ bytes: [UInt8], endStream: Bool = true, stream: HTTP2StreamID = stream) -> HTTP2Frame {
        HTTP2Frame(streamID: stream, payload: .data(.init(data: .byteBuffer(ByteBuffer(bytes: bytes)), endStream: endStream)))
    }

    /// A framed request message.
    static func message(_ request: some SwiftProtobuf.Message) throws -> [UInt8] {
        let bytes: [UInt8] = try request.serializedBytes()
        return Array(GRPCWireFormat.framed(bytes, allocator: .init()).readableBytesView)
    }

    /// The header block of `frame`, and whether it ends the stream.
    static func headerBlock(_ frame: HTTP2Frame) -> (HPACKHeaders, Bool)? {
        guard case .headers(let headers) = frame.payload else { return nil }
        return (headers.headers, headers.endStream)
    }

    @Test func aCallIsAnsweredWithHeadersMessageAndStatus() async throws {
        let channel = try await Self.channel(Self.probeTable())
        try await channel.writeInbound(Self.headers())
        try await channel.writeInbound(Self.data(try Self.message(Google_Protobuf_Empty())))

        let opening = try #require(Self.headerBlock(try await channel.waitForOutboundWrite(as: HTTP2Frame.self)))
        #expect(opening.0.first(name: ":status") == "200")
        #expect(opening.0.first(name: "content-type") == "application/grpc")
        #expect(!opening.1)
        let data = try await channel.waitForOutboundWrite(as: HTTP2Frame.self)
        guard case .data(let payload) = data.payload, case .byteBuffer(var buffer) = payload.data else {
            Issue.record("expected a DATA frame, got \(data)")
            return
        }
        let prefix = try #require(GRPCWireFormat.prefix(of: buffer))
        #expect(!prefix.compressed)
        buffer.moveReaderIndex(forwardBy: GRPCWireFormat.prefixLength)
        let bytes = buffer.readBytes(length: prefix.length)
        let response = try Google_Protobuf_BoolValue(serializedBytes: try #require(bytes))
        #expect(response.value)
        let trailers = try #require(Self.headerBlock(try await channel.waitForOutboundWrite(as: HTTP2Frame.self)))
        #expect(trailers.0.first(name: "grpc-status") == "0")
        #expect(trailers.1)
    }

    @Test func anUnknownMethodIsUnimplemented() async throws {
        let channel = try await Self.channel(Self.probeTable())
        try await channel.writeInbound(Self.headers(path: "/csi.v1.Controller/ListVolumes"))
        try await channel.writeInbound(Self.data(try Self.message(Google_Protobuf_Empty())))
        let answer = try #require(Self.headerBlock(try await channel.waitForOutboundWrite(as: HTTP2Frame.self)))
        #expect(answer.0.first(name: "grpc-status") == String(RPCError.Code.unimplemented.rawValue))
        #expect(answer.0.first(name: "grpc-message")?.contains("ListVolumes") == true)
        #expect(answer.1)
    }

    @Test func anOversizedMessageIsRefusedFromItsPrefixAndItsStreamReset() async throws {
        let ran = Atomic(false)
        let channel = try await Self.channel(Self.probeTable { ran.store(true, ordering: .relaxed) }, maxRequestBytes: 100)
        try await channel.writeInbound(Self.headers())
        // Only the prefix of a 1 MiB message has arrived.
        try await channel.writeInbound(Self.data([0, 0, 0x10, 0, 0], endStream: false))
        let answer = try #require(Self.headerBlock(try await channel.waitForOutboundWrite(as: HTTP2Frame.self)))
        #expect(answer.0.first(name: "grpc-status") == String(RPCError.Code.resourceExhausted.rawValue))
        #expect(answer.0.first(name: "grpc-message") == "request message of 1048576 bytes exceeds the limit of 100 bytes (volume ids, secrets and contexts must fit in it)")
        #expect(answer.1)
        let reset = try await channel.waitForOutboundWrite(as: HTTP2Frame.self)
        guard case .rstStream(.noError) = reset.payload else {
            Issue.record("expected RST_STREAM(NO_ERROR), got \(reset)")
            return
        }
        // The rest of the message is dropped; nothing runs.
        try await channel.writeInbound(Self.data([UInt8](repeating: 1, count: 200)))
        #expect(try await channel.readOutbound(as: HTTP2Frame.self) == nil)
        let didRun = ran.load(ordering: .relaxed)
        #expect(!didRun)
    }

    /// Requests that are not a unary gRPC call this server can run, and their codes.
    static let badRequests: [(name: String, headers: HPACKHeaders, body: [UInt8]?, code: RPCError.Code)] = [
        ("GET", [":method": "GET", ":path": probePath, "content-type": "application/grpc"], nil, .unimplemented),
        ("gzip", [":method": "POST", ":path": probePath, "content-type": "application/grpc", "grpc-encoding": "gzip"], nil, .unimplemented),
        ("bad timeout", [":method": "POST", ":path": probePath, "content-type": "application/grpc", "grpc-timeout": "5 seconds"], nil, .internalError),
        ("compressed flag", [":method": "POST", ":path": probePath, "content-type": "application/grpc"], [1, 0, 0, 0, 0], .internalError),
        ("no message", [":method": "POST", ":path": probePath, "content-type": "application/grpc"], [], .internalError),
        ("half a prefix", [":method": "POST", ":path": probePath, "content-type": "application/grpc"], [0, 0], .internalError),
    ]

    @Test(arguments: badRequests.indices) func requestsThatAreNotAUnaryCallAreRefused(index: Int) async throws {
        let bad = Self.badRequests[index]
        let ran = Atomic(false)
        let channel = try await Self.channel(Self.probeTable { ran.store(true, ordering: .relaxed) })
        try await channel.writeInbound(HTTP2Frame(streamID: Self.stream, payload: .headers(.init(headers: bad.headers, endStream: bad.body == nil))))
        if let body = bad.body { try await channel.writeInbound(Self.data(body)) }
        let answer = try #require(Self.headerBlock(try await channel.waitForOutboundWrite(as: HTTP2Frame.self)), "\(bad.name)")
        #expect(answer.0.first(name: "grpc-status") == String(bad.code.rawValue), "\(bad.name)")
        #expect(answer.0.first(name: "grpc-message")?.isEmpty == false, "\(bad.name)")
        #expect(answer.1, "\(bad.name)")
        let didRun = ran.load(ordering: .relaxed)
        #expect(!didRun, "\(bad.name)")
    }

    @Test func twoMessagesInAUnaryCallAreRefused() async throws {
        let channel = try await Self.channel(Self.probeTable())
        try await channel.writeInbound(Self.headers())
        let one = try Self.message(Google_Protobuf_Empty())
        try await channel.writeInbound(Self.data(one + one))
        let answer = try #require(Self.headerBlock(try await channel.waitForOutboundWrite(as: HTTP2Frame.self)))
        #expect(answer.0.first(name: "grpc-status") == String(RPCError.Code.internalError.rawValue))
    }

    @Test func aRequestThatDoesNotDecodeIsInvalidArgument() async throws {
        let channel = try await Self.channel(Self.probeTable())
        try await channel.writeInbound(Self.headers())
        try await channel.writeInbound(Self.data([0, 0, 0, 0, 2, 0xff, 0xff]))
        let answer = try #require(Self.headerBlock(try await channel.waitForOutboundWrite(as: HTTP2Frame.self)))
        #expect(answer.0.first(name: "grpc-status") == String(RPCError.Code.invalidArgument.rawValue))
    }

    @Test func thrownErrorsBecomeTheirStatusWithAnEncodedMessage() async throws {
        let channel = try await Self.channel(Self.probeTable { throw RPCError(code: .notFound, message: "no volume\n100%") })
        try await channel.writeInbound(Self.headers())
        try await channel.writeInbound(Self.data(try Self.message(Google_Protobuf_Empty())))
        let answer = try #require(Self.headerBlock(try await channel.waitForOutboundWrite(as: HTTP2Frame.self)))
        #expect(answer.0.first(name: ":status") == "200")
        #expect(answer.0.first(name: "grpc-status") == String(RPCError.Code.notFound.rawValue))
        #expect(answer.0.first(name: "grpc-message") == "no volume%0A100%25")
        #expect(answer.1)
    }

    @Test func aPassedDeadlineAnswersAndCancelsTheCall() async throws {
        let call = StalledCall()
        let observer = RecordingObserver()
        let limits = ConnectionLimits(maxRequestBytes: 1024)
        let channel = try await NIOAsyncTestingChannel { channel in
            let handler = GRPCConnectionHandler(
                methods: Self.probeTable(call.body), limits: limits, budget: RequestBudget(limit: limits.maxBufferedBytes),
                hooks: GRPCServerHooks(observer: observer), localPeer: "unix:/test"
            )
            try channel.pipeline.syncOperations.addHandler(handler)
        }
        try await channel.writeInbound(Self.headers(timeout: "50m"))
        try await channel.writeInbound(Self.data(try Self.message(Google_Protobuf_Empty())))
        await call.waitUntilStarted()
        await channel.testingEventLoop.advanceTime(by: .milliseconds(50))
        let answer = try #require(Self.headerBlock(try await channel.waitForOutboundWrite(as: HTTP2Frame.self)))
        #expect(answer.0.first(name: "grpc-status") == String(RPCError.Code.deadlineExceeded.rawValue))
        try await call.waitUntilCancelled()
        // The cancelled body's own answer comes too late and is not written, and the observer
        // heard what the client was told (not the CancellationError the body threw).
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await channel.readOutbound(as: HTTP2Frame.self) == nil)
        #expect(observer.codes == [.deadlineExceeded])
    }

    @Test func aClientResetCancelsTheCall() async throws {
        let call = StalledCall()
        let channel = try await Self.channel(Self.probeTable(call.body))
        try await channel.writeInbound(Self.headers())
        try await channel.writeInbound(Self.data(try Self.message(Google_Protobuf_Empty())))
        await call.waitUntilStarted()
        try await channel.writeInbound(HTTP2Frame(streamID: Self.stream, payload: .rstStream(.cancel)))
        try await call.waitUntilCancelled()
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await channel.readOutbound(as: HTTP2Frame.self) == nil)
    }

    @Test func theConnectionWindowIsReopenedOnceHalfOfItIsUsed() async throws {
        let channel = try await Self.channel(Self.probeTable())
        // NIOHTTP2 reports the window after each DATA frame, also one of a reset stream it
        // dropped: the window is reopened from its reports, not from the frames passed on.
        channel.pipeline.fireUserInboundEventTriggered(NIOHTTP2WindowUpdatedEvent(streamID: .rootStream, inboundWindowSize: 40_000, outboundWindowSize: 65_535))
        channel.pipeline.fireUserInboundEventTriggered(NIOHTTP2WindowUpdatedEvent(streamID: 1, inboundWindowSize: 100, outboundWindowSize: 65_535))
        #expect(try await channel.readOutbound(as: HTTP2Frame.self) == nil)
        channel.pipeline.fireUserInboundEventTriggered(NIOHTTP2WindowUpdatedEvent(streamID: .rootStream, inboundWindowSize: 30_000, outboundWindowSize: 65_535))
        let update = try await channel.waitForOutboundWrite(as: HTTP2Frame.self)
        guard case .windowUpdate(let increment) = update.payload else {
            Issue.record("expected WINDOW_UPDATE, got \(update)")
            return
        }
        #expect(update.streamID == .rootStream)
        #expect(increment == 65_535 - 30_000)
    }

    @Test func grpcTimeoutsAreParsed() {
        #expect(GRPCWireFormat.timeout("100m") == .milliseconds(100))
        #expect(GRPCWireFormat.timeout("5S") == .seconds(5))
        #expect(GRPCWireFormat.timeout("99999999n") == .nanoseconds(99_999_999))
        #expect(GRPCWireFormat.timeout("2H") == .hours(2))
        for bad in ["", "m", "100", "123456789S", "10x", "-5S", "1.5S"] {
            #expect(GRPCWireFormat.timeout(bad) == nil, "\(bad)")
        }
    }
}

/// A method body that waits until cancelled, and says when it started and when it was cancelled.
final class StalledCall: Sendable {
    private let started = AsyncStream<Void>.makeStream()
    private let cancelled = Atomic(false)

    var body: @Sendable () async throws -> Void {
        { [self] in
            started.continuation.yield()
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                cancelled.store(true, ordering: .relaxed)
                throw error
            }
        }
    }

    func waitUntilStarted() async {
        var iterator = started.stream.makeAsyncIterator()
        await iterator.next()
    }

    func waitUntilCancelled() async throws {
        while !cancelled.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(5)) }
    }
}

/// Records the status codes a server's observer is told (nil for OK).
final class RecordingObserver: GRPCCallObserver {
    private let recorded = Mutex<[RPCError.Code?]>([])
    func callEnded(_ method: MethodDescriptor, subject: String, status: RPCError?, duration: Duration) {
        recorded.withLock { $0.append(status?.code) }
    }
    var codes: [RPCError.Code?] { recorded.withLock { $0 } }
}
