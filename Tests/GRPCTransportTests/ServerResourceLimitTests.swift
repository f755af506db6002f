import GRPCCore
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import SwiftProtobuf
import Synchronization
import Testing

@testable import GRPCTransport

/// The server's bounds on what clients can make it hold (issue 27, items 5, 6 and 8): buffered
/// request bytes per connection and in all, the time a request's message may take, connections
/// that never start a call, and the exact content-type.
@Suite struct ServerResourceLimitTests {
    typealias Frames = GRPCConnectionHandlerTests

    /// The first bytes of a message of `length` bytes: its prefix and `sent - 5` bytes of it.
    static func partialMessage(length: Int, sent: Int) -> [UInt8] {
        let prefix: [UInt8] = [0, UInt8(length >> 24 & 0xff), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]
        return prefix + [UInt8](repeating: 7, count: sent - prefix.count)
    }

    /// The gRPC status of the next header block written, with its stream.
    static func nextStatus(_ channel: NIOAsyncTestingChannel) async throws -> (stream: HTTP2StreamID, status: String?, httpStatus: String?) {
        while true {
            let frame = try await channel.waitForOutboundWrite(as: HTTP2Frame.self)
            if let (headers, _) = Frames.headerBlock(frame) {
                return (frame.streamID, headers.first(name: "grpc-status"), headers.first(name: ":status"))
            }
        }
    }

    /// Whether the channel has closed (a testing channel is never "active").
    static func isClosed(_ channel: NIOAsyncTestingChannel) async -> Bool {
        let closed = ManagedAtomic()
        channel.closeFuture.whenComplete { _ in closed.value.store(true, ordering: .relaxed) }
        await channel.testingEventLoop.run()
        return closed.value.load(ordering: .relaxed)
    }

    final class ManagedAtomic: Sendable {
        let value = Atomic(false)
    }

    @Test func unfinishedRequestsCannotBufferMoreThanTheConnectionsBound() async throws {
        let ran = Atomic(0)
        let limits = ConnectionLimits(maxRequestBytes: 1000, maxBufferedBytesPerConnection: 2000)
        let budget = RequestBudget(limit: 1 << 20)
        let channel = try await Frames.channel(Frames.probeTable { ran.add(1, ordering: .relaxed) }, limits: limits, budget: budget)
        // Three requests of 900 of 1000 bytes each, none finished: the third passes 2000.
        for stream in [1, 3] as [HTTP2StreamID] {
            try await channel.writeInbound(Frames.headers(stream: stream))
            try await channel.writeInbound(Frames.data(Self.partialMessage(length: 1000, sent: 900), endStream: false, stream: stream))
        }
        #expect(try await channel.readOutbound(as: HTTP2Frame.self) == nil)
        #expect(budget.inUse == 1800)
        try await channel.writeInbound(Frames.headers(stream: 5))
        try await channel.writeInbound(Frames.data(Self.partialMessage(length: 1000, sent: 900), endStream: false, stream: 5))
        let refused = try await Self.nextStatus(channel)
        #expect(refused.stream == 5)
        #expect(refused.status == String(RPCError.Code.resourceExhausted.rawValue))
        #expect(budget.inUse == 1800)
        // A reset gives its bytes back; the others still finish and run.
        try await channel.writeInbound(HTTP2Frame(streamID: 1, payload: .rstStream(.cancel)))
        #expect(budget.inUse == 900)
        try await channel.writeInbound(Frames.headers(stream: 7))
        try await channel.writeInbound(Frames.data(try Frames.message(Google_Protobuf_Empty()), stream: 7))
        #expect(try await Self.nextStatus(channel).stream == 7)
        try await channel.close()
        #expect(budget.inUse == 0)
        let runs = ran.load(ordering: .relaxed)
        #expect(runs == 1)
    }

    @Test func allConnectionsTogetherStayWithinTheSharedBudget() async throws {
        let limits = ConnectionLimits(maxRequestBytes: 1000)
        let budget = RequestBudget(limit: 1500)
        let first = try await Frames.channel(Frames.probeTable(), limits: limits, budget: budget)
        let second = try await Frames.channel(Frames.probeTable(), limits: limits, budget: budget)
        try await first.writeInbound(Frames.headers())
        try await first.writeInbound(Frames.data(Self.partialMessage(length: 1000, sent: 900), endStream: false))
        try await second.writeInbound(Frames.headers())
        try await second.writeInbound(Frames.data(Self.partialMessage(length: 1000, sent: 900), endStream: false))
        #expect(try await Self.nextStatus(second).status == String(RPCError.Code.resourceExhausted.rawValue))
        #expect(budget.inUse == 900)
        try await first.close()
        #expect(budget.inUse == 0)
        // With the first connection gone, the second can buffer again.
        try await second.writeInbound(Frames.headers(stream: 3))
        try await second.writeInbound(Frames.data(Self.partialMessage(length: 1000, sent: 900), endStream: false, stream: 3))
        #expect(budget.inUse == 900)
        try await second.close()
        #expect(budget.inUse == 0)
    }

    @Test func aRequestWhoseMessageNeverArrivesIsAnsweredAfterTheBodyTimeout() async throws {
        let limits = ConnectionLimits(requestBodyTimeout: .seconds(30))
        let budget = RequestBudget(limit: limits.maxBufferedBytes)
        let channel = try await Frames.channel(Frames.probeTable(), limits: limits, budget: budget)
        try await channel.writeInbound(Frames.headers())
        try await channel.writeInbound(Frames.data(Self.partialMessage(length: 100, sent: 50), endStream: false))
        await channel.testingEventLoop.advanceTime(by: .seconds(29))
        #expect(try await channel.readOutbound(as: HTTP2Frame.self) == nil)
        await channel.testingEventLoop.advanceTime(by: .seconds(1))
        #expect(try await Self.nextStatus(channel).status == String(RPCError.Code.deadlineExceeded.rawValue))
        let reset = try await channel.waitForOutboundWrite(as: HTTP2Frame.self)
        guard case .rstStream = reset.payload else {
            Issue.record("expected RST_STREAM, got \(reset)")
            return
        }
        #expect(budget.inUse == 0)
    }

    @Test func aConnectionThatStartsNoCallIsClosedAfterTheStallTimeout() async throws {
        let limits = ConnectionLimits(requestBodyTimeout: .seconds(30), stalledConnectionTimeout: .seconds(60))
        // Unfinished requests, one after another, each before the last one's body timeout.
        let unfinished = try await Frames.channel(Frames.probeTable(), limits: limits)
        // Nothing at all.
        let silent = try await Frames.channel(Frames.probeTable(), limits: limits)
        // A call that runs for longer than the stall timeout.
        let call = StalledCall()
        let working = try await Frames.channel(Frames.probeTable(call.body), limits: limits)
        try await working.writeInbound(Frames.headers())
        try await working.writeInbound(Frames.data(try Frames.message(Google_Protobuf_Empty())))
        await call.waitUntilStarted()
        for (index, stream) in ([1, 3, 5] as [HTTP2StreamID]).enumerated() {
            try await unfinished.writeInbound(Frames.headers(stream: stream))
            try await unfinished.writeInbound(Frames.data(Self.partialMessage(length: 100, sent: 10), endStream: false, stream: stream))
            await unfinished.testingEventLoop.advanceTime(by: .seconds(25))
            if index < 2 { #expect(!(await Self.isClosed(unfinished))) }
        }
        await silent.testingEventLoop.advanceTime(by: .seconds(75))
        await working.testingEventLoop.advanceTime(by: .seconds(75))
        #expect(await Self.isClosed(unfinished))
        #expect(await Self.isClosed(silent))
        #expect(!(await Self.isClosed(working)))
        try await working.close()
    }

    /// grpc-swift's rule: `application/grpc` or `application/grpc+proto`, else HTTP 415.
    @Test(arguments: ["application/grpcXYZ", "application/grpc-web", "application/grpc-web+proto", "application/json", "application/grpc+json", ""])
    func anotherContentTypeIsHTTP415(contentType: String) async throws {
        let ran = Atomic(false)
        let channel = try await Frames.channel(Frames.probeTable { ran.store(true, ordering: .relaxed) })
        var headers: HPACKHeaders = [":method": "POST", ":scheme": "http", ":path": Frames.probePath]
        if !contentType.isEmpty { headers.add(name: "content-type", value: contentType) }
        try await channel.writeInbound(HTTP2Frame(streamID: Frames.stream, payload: .headers(.init(headers: headers))))
        try await channel.writeInbound(Frames.data(try Frames.message(Google_Protobuf_Empty())))
        let answer = try await Self.nextStatus(channel)
        #expect(answer.httpStatus == "415")
        #expect(answer.status == nil)
        let didRun = ran.load(ordering: .relaxed)
        #expect(!didRun)
    }

    @Test func grpcPlusProtoIsServed() async throws {
        let channel = try await Frames.channel(Frames.probeTable())
        let headers: HPACKHeaders = [":method": "POST", ":scheme": "http", ":path": Frames.probePath, "content-type": "application/grpc+proto"]
        try await channel.writeInbound(HTTP2Frame(streamID: Frames.stream, payload: .headers(.init(headers: headers))))
        try await channel.writeInbound(Frames.data(try Frames.message(Google_Protobuf_Empty())))
        #expect(try await Self.nextStatus(channel).httpStatus == "200")
    }
}
