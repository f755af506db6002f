import GRPCCore
import HostOperations
import GRPCNIOTransportHTTP2Posix
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The gRPC server on the plugin's unix socket, as a lifecycle `Service`.
///
/// `run()` takes the socket lock, removes a stale socket file left by a killed predecessor,
/// serves until graceful shutdown (SIGTERM/SIGINT through `ServiceGroup`), lets in-flight
/// RPCs finish, and removes the socket file again.
public struct PluginServer: Service {
    public let endpoint: PluginEndpoint
    public let services: [any RegistrableRPCService]
    public let logger: Logger
    public let limits: ConnectionLimits
    private let connections: ConnectionLimits.Counter

    public init(endpoint: PluginEndpoint, services: [any RegistrableRPCService], logger: Logger, limits: ConnectionLimits = ConnectionLimits()) {
        self.endpoint = endpoint
        self.services = services
        self.logger = logger
        self.limits = limits
        connections = ConnectionLimits.Counter(idleTimeout: limits.idleTimeout)
    }

    /// Client connections open now.
    public var openConnections: Int { connections.count }

    /// The transport configuration for `limits`: the request-size guard first on every stream,
    /// idle connections closed, and at most `maxConnections` at once.
    static func transportConfig(_ limits: ConnectionLimits, counter: ConnectionLimits.Counter) -> HTTP2ServerTransport.Posix.Config {
        var config = HTTP2ServerTransport.Posix.Config.defaults
        // grpc-swift's own check stays as a backstop just above the guard's limit.
        config.rpc.maxRequestPayloadSize = limits.maxRequestBytes + 1
        config.connection.maxIdleTime = limits.idleTimeout
        // Closing an idle connection is graceful (GOAWAY, then a PING the client must answer):
        // a client that never answers is closed after this much more.
        config.connection.maxGraceTime = limits.idleTimeout
        config.channelDebuggingCallbacks.onAcceptTCPConnection = { channel in
            counter.admit(channel, limit: limits.maxConnections)
        }
        config.channelDebuggingCallbacks.onAcceptHTTP2Stream = { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(RequestSizeGuard(limit: limits.maxRequestBytes), position: .first)
            }
        }
        return config
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
        let server = GRPCServer(
            transport: .http2NIOPosix(
                address: .unixDomainSocket(path: path),
                transportSecurity: .plaintext,
                config: Self.transportConfig(limits, counter: connections)
            ),
            services: services
        )
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await server.serve() }
                if let address = try await server.listeningAddress {
                    logger.info("listening", metadata: ["address": "\(address)"])
                }
            }
        } onGracefulShutdown: {
            logger.info("shutting down: finishing in-flight calls")
            server.beginGracefulShutdown()
        }
        logger.info("stopped", metadata: ["socket": "\(path)"])
    }
}

/// ServiceGroup names each service with `"\(service)"`. Without a description that is Swift's
/// reflection of every stored property, here the whole composition graph: a third of the
/// plugin's CPU time at start.
extension PluginServer: CustomStringConvertible {
    public var description: String { "PluginServer(\(endpoint))" }
}
