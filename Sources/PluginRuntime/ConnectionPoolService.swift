import CephAccess
import Logging
import ServiceLifecycle

/// The process's librados connections as a lifecycle `Service`: the pool is there from the
/// start, and is closed once the group shuts down. It is the group's first service, so it is
/// stopped last, after the servers have finished their calls: librados' threads must be gone
/// before the process exits (`RadosConnectionPool.close`).
public struct ConnectionPoolService: Service, CustomStringConvertible {
    public let connections: RadosConnectionPool
    let logger: Logger

    public init(connections: RadosConnectionPool, logger: Logger) {
        self.connections = connections
        self.logger = logger
    }

    public var description: String { "ConnectionPoolService" }

    public func run() async throws {
        // Cancellation (the group gave up waiting) closes the pool as well.
        try? await gracefulShutdown()
        await connections.close()
        logger.debug("closed the Ceph connections")
    }
}
