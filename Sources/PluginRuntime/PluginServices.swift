import CSIServices
import CephAccess
import GRPCCore
import GRPCTransport
import HostOperations
import KubernetesAccess
import Logging

/// Builds the concrete parts of the node and controller services over one librados connection
/// pool and wires the services. The process's long-lived parts (the pool, the Kubernetes
/// client, the servers) are `PluginApplication`'s services.
public enum PluginServices {
    /// Programs without which no node operation can work; Probe reports not-ready without them.
    public static let requiredTools = ["mount", "umount", "blkid"]

    /// The process's configuration, as its flags give it.
    public struct Configuration: Sendable {
        public var info: PluginInfo
        public var servesNode: Bool
        public var stateDirectory: String
        public var clusterConfigPath: String
        public var kmsConfigPath: String
        public var cephTimeout: Duration
        public var instanceID: String
        public var inUseWait: InUseWait
        /// Clone-depth and snapshot-count limits of the controller.
        public var cloneLimits: CloneLimits
        /// The largest volume the controller makes (`--max-volume-size`).
        public var maxVolumeBytes: UInt64 = ControllerHost.defaultMaxVolumeBytes
        /// The node's read affinity (its labels and `--crush-location-labels`).
        public var readAffinity: ReadAffinity
        /// ceph-csi's KMS ConfigMap (`KMS_CONFIGMAP_NAME` in `POD_NAMESPACE`), read through
        /// `kubernetes` on every use where the KMS config file is absent; nil outside a pod.
        public var kmsConfigMap: (name: String, namespace: String)?
        /// The Kubernetes API, in a pod: the KMS's Secrets (`secretName`) are read through it
        /// for as long as the plugin serves (`PluginApplication` shuts it down after).
        public var kubernetes: KubernetesClient?

        public init(
            info: PluginInfo, servesNode: Bool = true, stateDirectory: String, clusterConfigPath: String,
            kmsConfigPath: String = KMSConfig.defaultPath, cephTimeout: Duration = .seconds(10), instanceID: String = "default",
            inUseWait: InUseWait = InUseWait(), cloneLimits: CloneLimits = .defaults, readAffinity: ReadAffinity = ReadAffinity(),
            kmsConfigMap: (name: String, namespace: String)? = nil, kubernetes: KubernetesClient? = nil
        ) {
            self.info = info
            self.servesNode = servesNode
            self.stateDirectory = stateDirectory
            self.clusterConfigPath = clusterConfigPath
            self.kmsConfigPath = kmsConfigPath
            self.cephTimeout = cephTimeout
            self.instanceID = instanceID
            self.inUseWait = inUseWait
            self.cloneLimits = cloneLimits
            self.readAffinity = readAffinity
            self.kmsConfigMap = kmsConfigMap
            self.kubernetes = kubernetes
        }
    }

    /// The services of a process configured by `configuration`, on the real host and cluster,
    /// over a connection pool of their own (for tests, which do not close it).
    public static func make(_ configuration: Configuration, logger: Logger) -> [any GRPCMethodTableRegistrable] {
        compose(configuration, connections: RadosConnectionPool(limit: configuration.cephTimeout), logger: logger).services
    }

    /// What `compose` builds: the services, what their metrics read when scraped, and the
    /// node host (for healing at start).
    public struct Composition: Sendable {
        public var services: [any GRPCMethodTableRegistrable]
        /// The same readiness check as Probe's, and the staged-volume census of the node host.
        public var metrics: PluginMetrics.Sources
        public var node: NodeHost?
    }

    /// The services over the real host and cluster, `connections` shared by both; its owner
    /// closes it once they stopped serving (`PluginApplication`).
    public static func compose(_ configuration: Configuration, connections: RadosConnectionPool, logger: Logger) -> Composition {
        let clusters = ClusterConfig(path: configuration.clusterConfigPath)
        var kmsConfigMap: KubernetesKMSConfigMap?
        if let client = configuration.kubernetes, let name = configuration.kmsConfigMap {
            kmsConfigMap = KubernetesKMSConfigMap(client: client, name: name.name, namespace: name.namespace)
        }
        let kmsConfig = KMSConfig(
            path: configuration.kmsConfigPath, fallback: kmsConfigMap,
            secrets: configuration.kubernetes.map { KubernetesKMSSecrets(client: $0) }
        )
        let metadata = RadosMetadataReader(connections: connections)
        let node = configuration.servesNode ? NodeHost.system(
            stateDirectory: configuration.stateDirectory, clusters: clusters, kmsConfig: kmsConfig, metadata: metadata,
            cephTimeout: configuration.cephTimeout, inUseWait: configuration.inUseWait, readAffinity: configuration.readAffinity
        ) : nil
        let controller = configuration.info.servesController ? ControllerHost(
            clusters: clusters, provisioner: RadosVolumeProvisioner(connections: connections), metadata: metadata,
            journal: VolumeJournal(instanceID: configuration.instanceID), kmsConfig: kmsConfig, cloneLimits: configuration.cloneLimits,
            maxVolumeBytes: configuration.maxVolumeBytes
        ) : nil
        let metrics = PluginMetrics.Sources(
            readiness: readiness(servesNode: node != nil),
            census: node.map { StagedVolumeCensus(mountTable: $0.mountTable, devices: $0.devices) }
        )
        return Composition(services: make(info: configuration.info, node: node, controller: controller, logger: logger), metrics: metrics, node: node)
    }

    /// What Probe checks: the node's programs when the node service is served.
    static func readiness(servesNode: Bool) -> any ReadinessChecking {
        ToolReadinessCheck(tools: servesNode ? requiredTools : [])
    }

    /// The services over the given hosts (fakes in tests): Identity always, Node with a node
    /// host, Controller always (it answers its capabilities, empty without a controller host).
    public static func make(info: PluginInfo, node: NodeHost?, controller: ControllerHost?, logger: Logger) -> [any GRPCMethodTableRegistrable] {
        var services: [any GRPCMethodTableRegistrable] = [
            IdentityService(info: info, readiness: readiness(servesNode: node != nil), logger: logger),
            ControllerService(info: info, host: controller, logger: logger),
        ]
        if let node { services.append(NodeService(info: info, host: node, logger: logger)) }
        return services
    }
}
