import KubernetesAccess

/// Everything the plugin process is configured with, as its command line and environment give
/// it: `ServeCommand` parses and checks the flags into this and `PluginApplication` builds the
/// process from it. Nothing here is started or asked yet.
public struct PluginConfiguration: Sendable {
    /// The CSI socket (`--endpoint`).
    public var endpoint: PluginEndpoint
    /// The services' settings. `info.topology` and `readAffinity` are filled in at start, from
    /// the node's labels (`labels`).
    public var services: PluginServices.Configuration
    /// Where the node's labels come from, and which become topology and the CRUSH location.
    public var labels: NodeLabelSettings
    /// kubelet's CSI directory (`--stagingpath`), for healing rbd-nbd volumes at start.
    public var stagingRoot: String
    /// The whole start-up healing's time limit: kubelet waits for the socket meanwhile.
    public var healingLimit: Duration = .seconds(45)
    /// The Prometheus endpoint (`--metricsport`, `--metricspath`, `POD_IP`); nil serves none.
    public var metrics: MetricsEndpoint?
    /// The Kubernetes API, where the plugin runs in a pod with a service account.
    public var kubernetes: KubernetesConfig?

    public init(
        endpoint: PluginEndpoint, services: PluginServices.Configuration, labels: NodeLabelSettings, stagingRoot: String,
        metrics: MetricsEndpoint?, kubernetes: KubernetesConfig?
    ) {
        self.endpoint = endpoint
        self.services = services
        self.labels = labels
        self.stagingRoot = stagingRoot
        self.metrics = metrics
        self.kubernetes = kubernetes
    }
}

/// `--domainlabels`, `--node-labels-file` and `--crush-location-labels`.
public struct NodeLabelSettings: Sendable {
    /// `--domainlabels`: comma-separated labels, each `LABEL` or `LABEL=VALUE`.
    public var domainLabels: String
    /// The labels of `--node-labels-file`; nil reads them from the Node object (in a pod).
    public var file: [String: String]?
    /// `--crush-location-labels` with `--enable-read-affinity`; nil without read affinity.
    public var crushLocationLabels: String?

    public init(domainLabels: String = "", file: [String: String]? = nil, crushLocationLabels: String? = nil) {
        self.domainLabels = domainLabels
        self.file = file
        self.crushLocationLabels = crushLocationLabels
    }
}

/// Where the Prometheus metrics are served.
public struct MetricsEndpoint: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var path: String

    public init(host: String, port: Int, path: String) {
        self.host = host
        self.port = port
        self.path = path
    }
}
