import GRPCCore
import SwiftProtobuf

/// The methods a server serves, by their HTTP/2 path (`/csi.v1.Node/NodeGetCapabilities`):
/// typed unary and server-streaming handlers over SwiftProtobuf messages.
///
/// A method's request is decoded on its connection's event loop as soon as it has arrived,
/// which also gives the call its subject (what the call log names it by, a volume id); the
/// body then runs as a task. What a body throws becomes a status through the server's
/// `GRPCServerHooks.mapError`, the one place that maps errors.
public struct GRPCMethodTable: Sendable {
    /// One method: its descriptor, where it runs, and how a request becomes a call.
    public struct Method: Sendable {
        public let descriptor: MethodDescriptor
        /// Whether the method runs on its connection's event loop rather than the cooperative
        /// pool: for methods that only read cached state, and offload whatever could block.
        public let runsOnEventLoop: Bool
        /// Decodes a request (INVALID_ARGUMENT when it does not decode) into a call to run.
        let prepare: @Sendable (_ request: [UInt8]) throws -> PreparedCall
    }

    /// A decoded request, ready to run.
    struct PreparedCall: Sendable {
        var subject: String
        var body: Body
    }

    /// A call's body: one response, or a stream of them written through a sink.
    enum Body: Sendable {
        case unary(@Sendable (ServerContext) async throws -> [UInt8])
        case serverStreaming(@Sendable (ServerContext, GRPCMessageSink) async throws -> Void)
    }

    private var methods: [String: Method] = [:]

    public init() {}

    /// The table of `services`.
    public init(_ services: [any GRPCMethodTableRegistrable]) {
        for service in services { service.register(in: &self) }
    }

    /// The method served at `path`, an HTTP/2 `:path` such as `/csi.v1.Identity/Probe`.
    public func method(atPath path: Substring) -> Method? {
        guard path.first == "/" else { return nil }
        return methods[String(path.dropFirst())]
    }

    /// The fully qualified names of the methods served (`csi.v1.Identity/Probe`), sorted.
    public var names: [String] { methods.keys.sorted() }

    /// Serves the unary method `descriptor` with `body`; `subject` names a call in the log.
    public mutating func add<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ descriptor: MethodDescriptor,
        onEventLoop: Bool = false,
        subject: @escaping @Sendable (Request) -> String = { _ in "" },
        _ body: @escaping @Sendable (Request, ServerContext) async throws -> Response
    ) {
        methods[descriptor.fullyQualifiedMethod] = Method(descriptor: descriptor, runsOnEventLoop: onEventLoop) { bytes in
            let request: Request = try Self.decode(bytes)
            return PreparedCall(subject: subject(request), body: .unary { context in try await body(request, context).serializedBytes() })
        }
    }

    /// Serves the server-streaming method `descriptor` with `body`, which sends its responses
    /// through the stream it is given (each send waits until the message is written: a slow
    /// client slows the body, nothing piles up).
    public mutating func addServerStreaming<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ descriptor: MethodDescriptor,
        subject: @escaping @Sendable (Request) -> String = { _ in "" },
        _ body: @escaping @Sendable (Request, GRPCResponseStream<Response>, ServerContext) async throws -> Void
    ) {
        methods[descriptor.fullyQualifiedMethod] = Method(descriptor: descriptor, runsOnEventLoop: false) { bytes in
            let request: Request = try Self.decode(bytes)
            return PreparedCall(subject: subject(request), body: .serverStreaming { context, sink in
                try await body(request, GRPCResponseStream(sink: sink), context)
            })
        }
    }

    private static func decode<Request: SwiftProtobuf.Message>(_ bytes: [UInt8]) throws -> Request {
        do {
            return try Request(serializedBytes: bytes)
        } catch {
            throw RPCError(code: .invalidArgument, message: "the request is not a valid \(Request.protoMessageName) message: \(error)")
        }
    }
}

/// A service whose methods go into a `GRPCMethodTable`.
public protocol GRPCMethodTableRegistrable: Sendable {
    func register(in table: inout GRPCMethodTable)
}
