import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import GRPCProtobuf
import SwiftProtobuf
import Synchronization
import Testing

@testable import GRPCTransport

/// A server-streaming method end to end (issue 28): a test service on the transport, called
/// by grpc-swift-2's own client over a unix socket.
@Suite("Transport: server streaming", .serialized)
struct ServerStreamingTests {
    typealias Count = Google_Protobuf_UInt32Value
    static let countDescriptor = MethodDescriptor(fullyQualifiedService: "test.Counter", method: "Count")
    static let echoDescriptor = MethodDescriptor(fullyQualifiedService: "test.Counter", method: "Echo")

    /// Records what the server's observer is told.
    final class Observations: GRPCCallObserver {
        let ended = Mutex<[(method: String, subject: String, code: RPCError.Code?)]>([])
        func callEnded(_ method: MethodDescriptor, subject: String, status: RPCError?, duration: Duration) {
            ended.withLock { $0.append((method.method, subject, status?.code)) }
        }
        var all: [(method: String, subject: String, code: RPCError.Code?)] { ended.withLock { $0 } }
    }

    /// The test service: Count streams 0..<n (failing after `failAfter` when set, waiting
    /// forever when n is 0); Echo answers its request.
    /// Counts the messages a sender has sent.
    final class Counter: Sendable {
        let value = Atomic(0)
    }

    static func table(sent: Counter? = nil, failAfter: UInt32? = nil) -> GRPCMethodTable {
        var table = GRPCMethodTable()
        table.addServerStreaming(countDescriptor, subject: { "n=\($0.value)" }) { (request: Count, stream: GRPCResponseStream<Count>, _) in
            if request.value == 0 {
                try await Task.sleep(for: .seconds(60))
            }
            for index in 0..<request.value {
                if let failAfter, index == failAfter { throw RPCError(code: .dataLoss, message: "failed after \(index)") }
                try await stream.send(.with { $0.value = index })
                sent?.value.add(1, ordering: .relaxed)
            }
        }
        table.add(echoDescriptor) { (request: Count, _) in request }
        return table
    }

    static func withServer(_ table: GRPCMethodTable, observer: Observations? = nil, _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Void) async throws {
        let directory = "/tmp/rbdcsi-transport-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = GRPCServer(methods: table, hooks: GRPCServerHooks(observer: observer))
        let listener = try await server.bind(unixDomainSocketPath: directory + "/s.sock")
        defer { listener.close(promise: nil) }
        try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: directory + "/s.sock"), transportSecurity: .plaintext)) { client in
            try await body(client)
        }
        try await listener.close()
        await server.quiesce()
    }

    static func count(_ client: GRPCClient<HTTP2ClientTransport.Posix>, _ n: UInt32, options: CallOptions = .defaults) async throws -> [UInt32] {
        try await client.serverStreaming(
            request: ClientRequest(message: Count.with { $0.value = n }), descriptor: countDescriptor,
            serializer: ProtobufSerializer<Count>(), deserializer: ProtobufDeserializer<Count>(), options: options
        ) { response in
            var values: [UInt32] = []
            for try await message in response.messages { values.append(message.value) }
            return values
        }
    }

    @Test func aStreamArrivesWholeAndInOrder() async throws {
        let observer = Observations()
        try await Self.withServer(Self.table(), observer: observer) { client in
            #expect(try await Self.count(client, 2000) == Array(0..<2000))
            #expect(try await Self.count(client, 1) == [0])
            // A unary method on the same server.
            let echoed = try await client.unary(
                request: ClientRequest(message: Count.with { $0.value = 7 }), descriptor: Self.echoDescriptor,
                serializer: ProtobufSerializer<Count>(), deserializer: ProtobufDeserializer<Count>(), options: .defaults
            ) { try $0.message }
            #expect(echoed.value == 7)
        }
        let ended = observer.all
        #expect(ended.map(\.method) == ["Count", "Count", "Echo"])
        #expect(ended.map(\.subject) == ["n=2000", "n=1", ""])
        #expect(ended.allSatisfy { $0.code == nil })
    }

    @Test func anErrorAfterSomeMessagesEndsTheStreamWithItsStatus() async throws {
        try await Self.withServer(Self.table(failAfter: 3)) { client in
            let received = Mutex<[UInt32]>([])
            do {
                _ = try await client.serverStreaming(
                    request: ClientRequest(message: Count.with { $0.value = 10 }), descriptor: Self.countDescriptor,
                    serializer: ProtobufSerializer<Count>(), deserializer: ProtobufDeserializer<Count>(), options: .defaults
                ) { response in
                    for try await message in response.messages { received.withLock { $0.append(message.value) } }
                }
                Issue.record("the stream did not fail")
            } catch let error as RPCError {
                #expect(error.code == .dataLoss)
                #expect(error.message == "failed after 3")
            }
            #expect(received.withLock { $0 } == [0, 1, 2])
        }
    }

    @Test func aDeadlineEndsAStreamingCallOnce() async throws {
        let observer = Observations()
        try await Self.withServer(Self.table(), observer: observer) { client in
            var options = CallOptions.defaults
            options.timeout = .milliseconds(100)
            await #expect(throws: RPCError.self) { _ = try await Self.count(client, 0, options: options) }
        }
        // The client also gives up at its deadline and resets the stream: whichever the server
        // sees first, the call is observed once, as the client was told.
        let codes = observer.all.map(\.code)
        #expect(codes.count == 1)
        #expect(codes.first == .deadlineExceeded || codes.first == .cancelled)
    }

    @Test func aClientThatGoesAwayStopsTheSender() async throws {
        let sent = Counter()
        let observer = Observations()
        try await Self.withServer(Self.table(sent: sent), observer: observer) { client in
            let reader = Task {
                try await client.serverStreaming(
                    request: ClientRequest(message: Count.with { $0.value = 1_000_000 }), descriptor: Self.countDescriptor,
                    serializer: ProtobufSerializer<Count>(), deserializer: ProtobufDeserializer<Count>(), options: .defaults
                ) { response in
                    var count = 0
                    for try await _ in response.messages {
                        count += 1
                        if count == 10 { try await Task.sleep(for: .seconds(60)) }
                    }
                }
            }
            // The reader stops after 10 messages: flow control stops the sender well short of
            // a million, then the reader is cancelled and the sender ends.
            try await Task.sleep(for: .milliseconds(500))
            let whileStalled = sent.value.load(ordering: .relaxed)
            #expect(whileStalled < 100_000)
            reader.cancel()
            _ = try? await reader.value
            for _ in 0..<200 where observer.all.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(observer.all.first?.code == .cancelled)
        let total = sent.value.load(ordering: .relaxed)
        #expect(total < 1_000_000)
    }
}
