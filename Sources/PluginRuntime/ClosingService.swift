import Logging
import ServiceLifecycle

/// A resource the group's other services use for as long as they run (the librados connection
/// pool, the Kubernetes API client) as a lifecycle `Service`: nothing to run, only to close once
/// the group shuts down. Placed before its users in the group, it is closed after them: the
/// pool after the server's last call (librados' threads must be gone before the process exits,
/// `RadosConnectionPool.close`), the client after the healer and the KMS's last read
/// (async-http-client requires every client to be shut down).
public struct ClosingService: Service, CustomStringConvertible {
    /// What is closed, as the group's and this service's log lines name it.
    public let description: String
    private let close: @Sendable () async -> Void
    private let logger: Logger

    public init(_ name: String, logger: Logger, close: @escaping @Sendable () async -> Void) {
        description = name
        self.close = close
        self.logger = logger
    }

    public func run() async throws {
        // Cancellation (the group gave up waiting) closes it as well.
        try? await gracefulShutdown()
        await close()
        logger.debug("closed \(description)")
    }
}
