import CSIProtocol
import CSIServices
import Foundation
import HostOperations
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing

@testable import GRPCTransport
@testable import PluginRuntime

/// The server's limits over a real unix socket (issue 27, items 5 and 6): clients that never
/// finish a request neither keep every connection slot nor buffer without bound.
@Suite("gRPC server limits on a real socket", .serialized)
struct ServerSocketLimitTests {
    /// An HTTP/2 client that writes raw frames and hands back the ones it receives.
    final class RawClient: Sendable {
        let channel: any Channel
        let frames: AsyncStream<HTTP2Frame>

        private final class Collector: ChannelInboundHandler, Sendable {
            typealias InboundIn = HTTP2Frame
            let continuation: AsyncStream<HTTP2Frame>.Continuation
            init(_ continuation: AsyncStream<HTTP2Frame>.Continuation) { self.continuation = continuation }
            func channelRead(context: ChannelHandlerContext, data: NIOAny) { continuation.yield(unwrapInboundIn(data)) }
            func channelInactive(context: ChannelHandlerContext) { continuation.finish() }
        }

        init(socket: String) async throws {
            let (stream, continuation) = AsyncStream<HTTP2Frame>.makeStream()
            frames = stream
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers([NIOHTTP2Handler(mode: .client), Collector(continuation)])
                    }
                }
                .connect(unixDomainSocketPath: socket).get()
        }

        func send(_ frame: HTTP2Frame) async throws {
            try await channel.writeAndFlush(frame)
        }

        static let probeHeaders: HPACKHeaders = [
            ":method": "POST", ":scheme": "http", ":path": "/csi.v1.Identity/Probe", ":authority": "localhost", "content-type": "application/grpc", "te": "trailers",
        ]

        /// Opens stream `id` for Probe and sends `body` (`end`: the request's end).
        func probe(stream id: HTTP2StreamID, body: [UInt8], end: Bool) async throws {
            try await send(HTTP2Frame(streamID: id, payload: .headers(.init(headers: Self.probeHeaders))))
            try await send(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(ByteBuffer(bytes: body)), endStream: end))))
        }

        /// The grpc-status of the first header block that carries one, or nil if the connection closed.
        func status() async -> String? {
            for await frame in frames {
                if case .headers(let headers) = frame.payload, let status = headers.headers.first(name: "grpc-status") { return status }
            }
            return nil
        }
    }

    static func withServer(_ limits: ConnectionLimits, _ body: (PluginServer, String) async throws -> Void) async throws {
        let directory = "/tmp/rbdcsi-limits-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/csi.sock"
        let logger = Logger(label: "test")
        let info = PluginInfo(driverName: "d", version: "v", nodeID: "n", topology: [:], servesController: false)
        let server = PluginServer(endpoint: PluginEndpoint(socketPath: socket), services: PluginServices.make(info: info, node: nil, controller: nil, logger: logger), logger: logger, limits: limits)
        let group = ServiceGroup(services: [server], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // The socket file appears at bind(2), before listen(2): wait for the listening socket.
            for _ in 0..<500 where !UnixSocketTable.isListening(socket) { try await Task.sleep(for: .milliseconds(10)) }
            try await body(server, socket)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    static let probeMessage: [UInt8] = [0, 0, 0, 0, 0]

    @Test func clientsHoldingUnfinishedRequestsCannotLockANewClientOut() async throws {
        let limits = ConnectionLimits(maxConnections: 4, stalledConnectionTimeout: .seconds(1))
        try await Self.withServer(limits) { server, socket in
            var holders: [RawClient] = []
            for _ in 0..<4 {
                let client = try await RawClient(socket: socket)
                try await client.probe(stream: 1, body: [0, 0, 0, 0, 10, 1, 2], end: false)
                holders.append(client)
            }
            for _ in 0..<200 where server.openConnections < 4 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(server.openConnections == 4)
            // A new client is refused while all slots are held, then served within about the
            // stall timeout.
            let start = ContinuousClock.now
            var served = false
            while !served, ContinuousClock.now - start < .seconds(10) {
                let client = try await RawClient(socket: socket)
                try? await client.probe(stream: 1, body: Self.probeMessage, end: true)
                served = await client.status() == "0"
                try? await client.channel.close()
                if !served { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(served)
            #expect(ContinuousClock.now - start < .seconds(4))
            for holder in holders { try? await holder.channel.close() }
        }
    }

    @Test func unfinishedRequestBodiesStayWithinTheBuffersBound() async throws {
        // Messages of up to 1 MiB; 2 MiB may wait per connection.
        let limits = ConnectionLimits(maxRequestBytes: 1 << 20, maxBufferedBytesPerConnection: 2 << 20)
        try await Self.withServer(limits) { server, socket in
            let client = try await RawClient(socket: socket)
            // 16 streams, each the first 256 KiB of a 1 MiB message, never finished: 4 MiB
            // offered, 2 MiB held at most, the other requests refused.
            let length = (1 << 20) - 5
            let prefix: [UInt8] = [0, UInt8(length >> 24 & 0xff), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]
            let chunk = prefix + [UInt8](repeating: 9, count: (256 << 10) - 5)
            for index in 0..<16 {
                let id = HTTP2StreamID(1 + 2 * index)
                try await client.send(HTTP2Frame(streamID: id, payload: .headers(.init(headers: RawClient.probeHeaders))))
                client.channel.writeAndFlush(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(ByteBuffer(bytes: chunk))))), promise: nil)
            }
            var refused = 0
            let end = ContinuousClock.now + .seconds(20)
            for await frame in client.frames {
                if case .headers(let headers) = frame.payload, headers.headers.first(name: "grpc-status") == "8" { refused += 1 }
                #expect(server.bufferedRequestBytes <= limits.maxBufferedBytesPerConnection)
                if refused >= 8 || ContinuousClock.now > end { break }
            }
            // Frames of the 16 streams interleave: at least half are refused, and what the
            // others hold stays within the bound.
            #expect(refused >= 8)
            try await Task.sleep(for: .milliseconds(200))
            #expect(server.bufferedRequestBytes <= limits.maxBufferedBytesPerConnection)
            #expect(server.bufferedRequestBytes >= 1 << 20)
            try await client.channel.close()
            for _ in 0..<100 where server.bufferedRequestBytes != 0 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(server.bufferedRequestBytes == 0)
        }
    }
}
