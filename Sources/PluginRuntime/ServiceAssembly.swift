import CSIServices
import CephAccess
import KubernetesAccess
import Logging
import ServiceLifecycle

/// Assembles the CSI services once the clients are up: reads this node's labels (from the file,
/// or from its Node object as ceph-csi does), turns them into topology and read affinity,
/// builds the services over the shared connection pool, and opens `assembled` for the
/// services that wait for them. Its failure (a `--domainlabels` value it cannot find) stops
/// the whole group, and the clients close in order.
struct ServiceAssembly: Service, CustomStringConvertible {
    /// What the servers are built from.
    struct Assembled: Sendable {
        var composition: PluginServices.Composition
        /// The Prometheus registry over the composition's sources; swift-metrics' backend when
        /// the metrics are served.
        var metrics: PluginMetrics
    }

    let configuration: PluginConfiguration
    let connections: RadosConnectionPool
    let kubernetes: KubernetesClient?
    let assembled: StartupGate<Assembled>
    let logger: Logger

    var description: String { "ServiceAssembly" }

    func run() async throws {
        do {
            assembled.open(try await assemble())
        } catch {
            assembled.abandon()
            throw error
        }
    }

    private func assemble() async throws -> Assembled {
        var services = configuration.services
        let nodeLabels = try await nodeLabels()
        services.info.topology = try TopologyLabels.segments(
            domainLabels: configuration.labels.domainLabels, driverName: services.info.driverName, nodeLabels: nodeLabels
        )
        services.readAffinity = ReadAffinity(nodeLabels: nodeLabels, commandLineLabels: configuration.labels.crushLocationLabels)
        services.kubernetes = kubernetes
        let composition = PluginServices.compose(services, connections: connections, logger: logger)
        let metrics = PluginMetrics(sources: composition.metrics, version: services.info.version)
        if configuration.metrics != nil {
            // Bootstrapped before anything is served or healed, and only when served: without
            // it every metric is swift-metrics' no-op.
            metrics.bootstrapSwiftMetrics()
        }
        return Assembled(composition: composition, metrics: metrics)
    }

    /// The labels of `--node-labels-file`, else (on a node, in a pod) those of the Node object.
    private func nodeLabels() async throws -> [String: String] {
        if let file = configuration.labels.file { return file }
        guard let kubernetes, configuration.services.servesNode else { return [:] }
        do {
            return try await kubernetes.node(named: configuration.services.info.nodeID).metadata.labels ?? [:]
        } catch {
            guard configuration.labels.domainLabels.isEmpty else {
                throw PluginRuntimeError.badFlag("--domainlabels: cannot read the labels of node \(configuration.services.info.nodeID): \(error)")
            }
            logger.warning("cannot read this node's labels: no read affinity", metadata: ["error": "\(error)"])
            return [:]
        }
    }
}
