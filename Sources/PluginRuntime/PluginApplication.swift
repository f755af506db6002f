import CephAccess
import KubernetesAccess
import Logging
import ServiceLifecycle
import UnixSignals

/// The composition root: every long-lived part of the plugin process as a lifecycle `Service`
/// in one `ServiceGroup`, in dependency order.
///
/// | # | service | waits for | stops |
/// | - | --- | --- | --- |
/// | 1 | `ClosingService`: the librados connection pool | | last, after every call |
/// | 2 | `ClosingService`: the Kubernetes API client (in a pod) | | after the servers and the healer |
/// | 3 | `ServiceAssembly`: node labels → topology, the services | the clients | when done |
/// | 4 | `HealingService`: rbd-nbd volumes of the last run | the services | when done |
/// | 5 | `MetricsServer` (with `--metricsport`) | the services | second |
/// | 6 | `PluginServer` on `--endpoint` | the healed services | first: drains its calls |
///
/// `ServiceGroup` starts all of them at once and stops them in reverse order, each after the
/// one above it has returned; the gates (`StartupGate`) make the start follow the same order.
/// SIGTERM or SIGINT stops the group gracefully; a service that fails stops it the same way,
/// and its error is what `run()` throws. A second gRPC service on its own socket (csi-addons)
/// is one more `PluginServer` in this list.
public struct PluginApplication: CustomStringConvertible {
    public let configuration: PluginConfiguration
    let logger: Logger
    /// The services in start order.
    let services: [ServiceGroupConfiguration.ServiceConfiguration]

    public var description: String { "PluginApplication(\(configuration.endpoint))" }

    /// Builds the services; nothing runs or connects until `run()`. A Kubernetes configuration
    /// the client cannot use (an unreadable CA file) is logged and served without the API, as
    /// outside a pod.
    public init(configuration: PluginConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        let connections = RadosConnectionPool(limit: configuration.services.cephTimeout)
        var kubernetes: KubernetesClient?
        if let config = configuration.kubernetes {
            do {
                kubernetes = try KubernetesClient(config: config)
            } catch {
                logger.info("not using the Kubernetes API", metadata: ["reason": "\(error)"])
            }
        }
        let assembled = StartupGate<ServiceAssembly.Assembled>()
        let healed = StartupGate<ServiceAssembly.Assembled>()
        // Parts the group needs ended before it can end: a failure stops the group gracefully.
        func part(_ service: any Service) -> ServiceGroupConfiguration.ServiceConfiguration {
            .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)
        }
        // Start-up steps: done when they return.
        func step(_ service: any Service) -> ServiceGroupConfiguration.ServiceConfiguration {
            .init(service: service, successTerminationBehavior: .ignore, failureTerminationBehavior: .gracefullyShutdownGroup)
        }
        var services = [part(ClosingService("the Ceph connections", logger: logger) { await connections.close() })]
        if let kubernetes { services.append(part(ClosingService("the Kubernetes API client", logger: logger) { await kubernetes.shutdown() })) }
        services.append(step(ServiceAssembly(configuration: configuration, connections: connections, kubernetes: kubernetes, assembled: assembled, logger: logger)))
        let info = configuration.services.info
        let healing = StartupHealing(nodeID: info.nodeID, driverName: info.driverName, stagingRoot: configuration.stagingRoot, limit: configuration.healingLimit)
        services.append(step(HealingService(healing: healing, kubernetes: kubernetes, assembled: assembled, healed: healed, logger: logger)))
        if let endpoint = configuration.metrics {
            services.append(part(DeferredService("MetricsServer(\(endpoint.host):\(endpoint.port))", after: assembled) { ready in
                MetricsServer(host: endpoint.host, port: endpoint.port, path: endpoint.path, metrics: ready.metrics, logger: logger)
            }))
        }
        let endpoint = configuration.endpoint
        services.append(part(DeferredService("PluginServer(\(endpoint))", after: healed) { ready in
            PluginServer(endpoint: endpoint, services: ready.composition.services, logger: logger)
        }))
        self.services = services
    }

    /// Runs the plugin until SIGTERM or SIGINT (or a service fails), then stops every part in
    /// reverse order.
    public func run() async throws {
        let info = configuration.services.info
        logger.info("starting", metadata: ["driver": "\(info.driverName)", "version": "\(info.version)", "node": "\(info.nodeID)", "endpoint": "\(configuration.endpoint)"])
        try await serviceGroup(gracefulShutdownSignals: [.sigterm, .sigint]).run()
    }

    /// The group `run()` runs (tests stop it with `triggerGracefulShutdown()`).
    func serviceGroup(gracefulShutdownSignals: [UnixSignal]) -> ServiceGroup {
        ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: gracefulShutdownSignals, logger: logger))
    }

    /// ceph-csi's `--type=liveness`: the prober and its metrics server, until SIGTERM or SIGINT.
    public static func runLiveness(endpoint: PluginEndpoint, pollTime: Duration, timeout: Duration, metrics: MetricsEndpoint, logger: Logger) async throws {
        let registry = PluginMetrics(sources: nil, version: PluginVersion.current)
        let prober = LivenessProber(endpoint: endpoint, pollTime: pollTime, timeout: timeout, metrics: registry, logger: logger)
        let server = MetricsServer(host: metrics.host, port: metrics.port, path: metrics.path, metrics: registry, logger: logger)
        logger.info("liveness prober starting", metadata: ["endpoint": "\(endpoint)", "pollTime": "\(pollTime)"])
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: prober), .init(service: server)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
    }
}
