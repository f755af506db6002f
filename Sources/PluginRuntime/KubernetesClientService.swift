import KubernetesAccess
import Logging
import ServiceLifecycle

/// The Kubernetes API client as a lifecycle `Service`: open from the start (node labels, the
/// healer, the KMS's Secrets and ConfigMap while serving) and shut down once the services
/// that use it have stopped, as async-http-client requires of every client.
public struct KubernetesClientService: Service, CustomStringConvertible {
    public let client: KubernetesClient
    let logger: Logger

    public init(client: KubernetesClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public var description: String { "KubernetesClientService(\(client.config.server))" }

    public func run() async throws {
        try? await gracefulShutdown()
        await client.shutdown()
        logger.debug("closed the Kubernetes API client")
    }
}
