import HostOperations
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The gRPC server on the plugin's unix socket, as a lifecycle `Service`.
///
/// `run()` takes the socket lock, removes a stale socket file left by a killed predecessor,
/// serves until graceful shutdown (SIGTERM/SIGINT through `ServiceGroup`), lets in-flight
/// RPCs finish, and removes the socket file again.
///
/// Each connection is NIOHTTP2's frame handler, its connection manager (idle close, graceful
/// close), and `GRPCUnaryHandler`, which runs the CSI methods from a `GRPCMethodTable`.
public struct PluginServer: Service {
    public let endpoint: PluginEndpoint
    public let methods: GRPCMethodTable
    public let logger: Logger
    public let limits: ConnectionLimits
    private let connections: ConnectionLimits.OpenConnections
    private let budget: RequestBudget

    public init(endpoint: PluginEndpoint, services: [any GRPCMethodTableRegistrable], logger: Logger, limits: ConnectionLimits = ConnectionLimits()) {
        self.endpoint = endpoint
        self.methods = GRPCMethodTable(services)
        self.logger = logger
        self.limits = limits
        connections = ConnectionLimits.OpenConnections(idleTimeout: limits.idleTimeout)
        budget = RequestBudget(limit: limits.maxBufferedBytes)
    }

    /// Request bytes buffered now for calls that have not started, across all connections.
    public var bufferedRequestBytes: Int { budget.inUse }

    /// Client connections open now.
    public var openConnections: Int { connections.count }

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
    static func initialize(
        _ channel: any Channel, methods: GRPCMethodTable, limits: ConnectionLimits,
        connections: ConnectionLimits.OpenConnections, budget: RequestBudget, localPeer: String
    ) throws {
        guard try connections.admit(channel, limit: limits.maxConnections) else { return }
        let idle = TimeAmount(limits.idleTimeout)
        // Closing an idle connection is graceful (GOAWAY, then a PING the client must answer):
        // a client that never answers is closed after the same time again.
        let management = NIOHTTP2ServerConnectionManagementHandler(
            eventLoop: channel.eventLoop,
            configuration: .init(maxIdleTime: idle, maxAge: nil, maxGraceTime: idle, keepalive: nil)
        )
        try channel.pipeline.syncOperations.addHandlers([
            NIOHTTP2Handler(mode: .server, initialSettings: settings(limits)),
            management,
            GRPCUnaryHandler(methods: methods, limits: limits, budget: budget, localPeer: localPeer),
        ])
    }

    public func run() async throws {
        let path = endpoint.socketPath
        let lock = try SocketLock(socketPath: path)
        // The lock file may have been deleted under a live plugin: a socket that still
        // accepts connections is served, and is never taken over.
        if SocketLock.isAnswering(socketPath: path) {
            throw PluginRuntimeError.socketInUse(path: path, holder: "a process still accepts connections on it (its lock file was removed)")
        }
        if unlink(path) == 0 {
            logger.info("removed stale socket", metadata: ["socket": "\(path)"])
        }
        defer {
            unlink(path)
            withExtendedLifetime(lock) {}
        }
        let (methods, limits, connections, budget) = (self.methods, self.limits, self.connections, self.budget)
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.initialize(channel, methods: methods, limits: limits, connections: connections, budget: budget, localPeer: "unix:\(path)")
                }
            }
            .bind(unixDomainSocketPath: path)
            .get()
        logger.info("listening", metadata: ["address": "unix:\(path)"])
        await withGracefulShutdownHandler {
            try? await listener.closeFuture.get()
        } onGracefulShutdown: {
            logger.info("shutting down: finishing in-flight calls")
            listener.close(promise: nil)
        }
        // In-flight calls finish; each connection then closes (GOAWAY first).
        await connections.quiesce()
        logger.info("stopped", metadata: ["socket": "\(path)"])
    }
}

/// ServiceGroup names each service with `"\(service)"`. Without a description that is Swift's
/// reflection of every stored property, here the whole composition graph: a third of the
/// plugin's CPU time at start.
extension PluginServer: CustomStringConvertible {
    public var description: String { "PluginServer(\(endpoint))" }
}
