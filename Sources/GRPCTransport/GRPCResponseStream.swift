import SwiftProtobuf

/// Where a server-streaming method sends its responses.
public struct GRPCResponseStream<Response: SwiftProtobuf.Message>: Sendable {
    let sink: GRPCMessageSink

    /// Sends one response; returns once it is written to the connection. Throws when the call
    /// has ended (the client reset it, went away, or its deadline passed).
    public func send(_ response: Response) async throws {
        try await sink.write(try response.serializedBytes())
    }
}

/// Writes a streaming call's serialized messages to its stream.
struct GRPCMessageSink: Sendable {
    let write: @Sendable ([UInt8]) async throws -> Void
}
