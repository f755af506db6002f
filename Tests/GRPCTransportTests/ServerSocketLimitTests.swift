import Foundation
import NIOCore
import NIOHPACK
import NIOHTTP2
import SwiftProtobuf
import Testing

@testable import GRPCTransport

/// The server's limits over a real unix socket (issue 27, items 5 and 6): clients that never
/// finish a request neither keep every connection slot nor buffer without bound.
@Suite("gRPC server limits on a real socket", .serialized)
struct ServerSocketLimitTests {
    static let echoHeaders: HPACKHeaders = [
        ":method": "POST", ":scheme": "http", ":path": "/test.Edge/Echo", ":authority": "localhost", "content-type": "application/grpc", "te": "trailers",
    ]

    /// Runs the transport's server with an Echo method under `limits` on a fresh socket.
    static func withServer(_ limits: ConnectionLimits, _ body: (GRPCTransport.GRPCServer, String) async throws -> Void) async throws {
        let directory = "/tmp/rbdcsi-limits-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var table = GRPCMethodTable()
        table.add(TransportConformanceTests.echo) { (request: Google_Protobuf_UInt32Value, _) in request }
        let server = GRPCTransport.GRPCServer(methods: table, limits: limits)
        let listener = try await server.bind(unixDomainSocketPath: directory + "/s.sock")
        try await body(server, directory + "/s.sock")
        try await listener.close()
        await server.quiesce()
    }

    /// Opens stream `id` for Echo and sends `body` (`end`: the request's end).
    static func echo(_ client: RawHTTP2Client, stream id: HTTP2StreamID, body: [UInt8], end: Bool) async throws {
        try await client.send(HTTP2Frame(streamID: id, payload: .headers(.init(headers: echoHeaders))))
        try await client.send(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(ByteBuffer(bytes: body)), endStream: end))))
    }

    static let echoMessage: [UInt8] = [0, 0, 0, 0, 0]

    @Test func clientsHoldingUnfinishedRequestsCannotLockANewClientOut() async throws {
        let limits = ConnectionLimits(maxConnections: 4, stalledConnectionTimeout: .seconds(2))
        try await Self.withServer(limits) { server, socket in
            let opened = ContinuousClock.now
            var holders: [RawHTTP2Client] = []
            for _ in 0..<4 {
                let client = try await RawHTTP2Client(socket: socket)
                try await Self.echo(client, stream: 1, body: [0, 0, 0, 0, 10, 1, 2], end: false)
                holders.append(client)
            }
            defer { for holder in holders { holder.close() } }
            for _ in 0..<100 where server.openConnections < 4 { try await Task.sleep(for: .milliseconds(10)) }
            // All slots held: a new client is refused (unless the machine was so slow that the
            // stall timeout already freed one).
            if server.openConnections == 4, ContinuousClock.now - opened < .seconds(1) {
                #expect(await Self.served(socket) == false)
            }
            // Then served within about the stall timeout.
            var served = false
            while !served, ContinuousClock.now - opened < .seconds(20) {
                served = await Self.served(socket)
                if !served { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(served)
            #expect(ContinuousClock.now - opened < .seconds(10))
        }
    }

    /// Whether a new client's Echo is answered OK.
    static func served(_ socket: String) async -> Bool {
        guard let client = try? await RawHTTP2Client(socket: socket) else { return false }
        defer { client.close() }
        try? await Self.echo(client, stream: 1, body: Self.echoMessage, end: true)
        return await client.outcome(of: 1, within: .seconds(5)).grpcStatus == "0"
    }

    @Test func unfinishedRequestBodiesStayWithinTheBuffersBound() async throws {
        // Messages of up to 1 MiB; 2 MiB may wait per connection.
        let limits = ConnectionLimits(maxRequestBytes: 1 << 20, maxBufferedBytesPerConnection: 2 << 20)
        try await Self.withServer(limits) { server, socket in
            let client = try await RawHTTP2Client(socket: socket)
            // 16 streams, each the first 256 KiB of a 1 MiB message, never finished: 4 MiB
            // offered, 2 MiB held at most, the other requests refused.
            let length = (1 << 20) - 5
            let prefix = TransportConformanceTests.prefix(length: length)
            let chunk = prefix + [UInt8](repeating: 9, count: (256 << 10) - 5)
            for index in 0..<16 {
                let id = HTTP2StreamID(1 + 2 * index)
                try await client.send(HTTP2Frame(streamID: id, payload: .headers(.init(headers: Self.echoHeaders))))
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
            client.close()
            for _ in 0..<100 where server.bufferedRequestBytes != 0 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(server.bufferedRequestBytes == 0)
        }
    }
}
