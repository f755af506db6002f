import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix

/// A gRPC server over HTTP/2 on a unix socket, straight from NIOHTTP2's frames: the methods of
/// a `GRPCMethodTable` under `ConnectionLimits`, with error mapping and call observation from
/// `GRPCServerHooks`. Serving another service on another socket is another `GRPCServer`.
///
/// Each connection is NIOHTTP2's frame handler, its connection manager (idle close, graceful
/// close), and a `GRPCConnectionHandler`, which runs the calls.
public final class GRPCServer: Sendable {
    public let methods: GRPCMethodTable
    public let limits: ConnectionLimits
    public let hooks: GRPCServerHooks
    private let connections: OpenConnections
    private let budget: RequestBudget

    public init(methods: GRPCMethodTable, limits: ConnectionLimits = ConnectionLimits(), hooks: GRPCServerHooks = GRPCServerHooks()) {
        self.methods = methods
        self.limits = limits
        self.hooks = hooks
        connections = OpenConnections(idleTimeout: limits.idleTimeout)
        budget = RequestBudget(limit: limits.maxBufferedBytes)
    }

    /// Client connections open now.
    public var openConnections: Int { connections.count }

    /// Request bytes buffered now for calls that have not started, across all connections.
    public var bufferedRequestBytes: Int { budget.inUse }

    /// Listens on the unix socket at `path` (which must not exist); connections are served
    /// until the returned channel is closed and `quiesce()` has let them finish.
    public func bind(unixDomainSocketPath path: String) async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try self.initialize(channel, localPeer: "unix:\(path)")
                }
            }
            .bind(unixDomainSocketPath: path)
            .get()
    }

    /// Asks every connection to close once its calls have ended (GOAWAY first), and waits
    /// until they have.
    public func quiesce() async {
        await connections.quiesce()
    }

    /// The settings sent to each client. A stream's window holds a whole request message, so
    /// only the connection's window needs reopening while a request arrives.
    static func settings(_ limits: ConnectionLimits) -> HTTP2Settings {
        [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: limits.maxConcurrentStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: HPACKDecoder.defaultMaxHeaderListSize),
            HTTP2Setting(parameter: .initialWindowSize, value: min(limits.maxRequestBytes + GRPCWireFormat.prefixLength, Int(Int32.max))),
        ]
    }

    /// Sets up an accepted connection's pipeline, or closes it when too many are open.
    func initialize(_ channel: any Channel, localPeer: String) throws {
        guard try connections.admit(channel, limit: limits.maxConnections) else { return }
        let idle = TimeAmount(limits.idleTimeout)
        // Closing an idle connection is graceful (GOAWAY, then a PING the client must answer):
        // a client that never answers is closed after the same time again.
        let management = NIOHTTP2ServerConnectionManagementHandler(
            eventLoop: channel.eventLoop,
            configuration: .init(maxIdleTime: idle, maxAge: nil, maxGraceTime: idle, keepalive: nil)
        )
        try channel.pipeline.syncOperations.addHandlers([
            NIOHTTP2Handler(mode: .server, initialSettings: Self.settings(limits)),
            management,
            GRPCConnectionHandler(methods: methods, limits: limits, budget: budget, hooks: hooks, localPeer: localPeer),
        ])
    }
}
