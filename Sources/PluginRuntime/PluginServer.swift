import GRPCTransport
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The gRPC server on the plugin's unix socket, as a lifecycle `Service`.
///
/// `run()` takes the socket lock, removes a stale socket file left by a killed predecessor,
/// serves until graceful shutdown (SIGTERM/SIGINT through `ServiceGroup`), lets in-flight
/// RPCs finish, and removes the socket file again. The serving itself is the transport's
/// `GRPCServer`, with the plugin's error mapping and call log as its hooks.
public struct PluginServer: Service {
    public let endpoint: PluginEndpoint
    public let logger: Logger
    public let server: GRPCServer

    public init(
        endpoint: PluginEndpoint, services: [any GRPCMethodTableRegistrable], logger: Logger, limits: ConnectionLimits = ConnectionLimits(),
        hooks: GRPCServerHooks? = nil
    ) {
        self.endpoint = endpoint
        self.logger = logger
        server = GRPCServer(methods: GRPCMethodTable(services), limits: limits, hooks: hooks ?? RPCCallLog.hooks(logger: logger))
    }

    /// Client connections open now.
    public var openConnections: Int { server.openConnections }

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
        let listener = try await server.bind(unixDomainSocketPath: path)
        logger.info("listening", metadata: ["address": "unix:\(path)"])
        await withGracefulShutdownHandler {
            try? await listener.closeFuture.get()
        } onGracefulShutdown: {
            logger.info("shutting down: finishing in-flight calls")
            listener.close(promise: nil)
        }
        // In-flight calls finish; each connection then closes (GOAWAY first).
        await server.quiesce()
        logger.info("stopped", metadata: ["socket": "\(path)"])
    }
}

/// ServiceGroup names each service with `"\(service)"`. Without a description that is Swift's
/// reflection of every stored property, here the whole composition graph: a third of the
/// plugin's CPU time at start.
extension PluginServer: CustomStringConvertible {
    public var description: String { "PluginServer(\(endpoint))" }
}
