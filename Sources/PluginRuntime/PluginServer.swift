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

    public init(endpoint: PluginEndpoint, services: [any RegistrableRPCService], logger: Logger) {
        self.endpoint = endpoint
        self.services = services
        self.logger = logger
    }

    public func run() async throws {
        let path = endpoint.socketPath
        let lock = try SocketLock(socketPath: path)
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
                transportSecurity: .plaintext
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
