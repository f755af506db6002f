/// Where and as whom to reach a Ceph cluster: its monitors, a user's credentials, and the
/// network namespace mappers run in (the cluster config's `rbd.netNamespaceFilePath`).
public struct ClusterAccess: Sendable {
    public var monitors: [String]
    public var credentials: CephCredentials
    /// A network namespace file (e.g. `/var/run/netns/ceph`) for `rbd map`, `rbd-nbd` and
    /// `rbd-fuse`, as ceph-csi runs `rbd map` there with `nsenter --net=…`.
    public var netNamespace: String?
    /// The cluster config's read affinity settings, if any.
    public var readAffinity: ClusterConfig.Cluster.ReadAffinitySettings?

    public init(
        monitors: [String], credentials: CephCredentials, netNamespace: String? = nil,
        readAffinity: ClusterConfig.Cluster.ReadAffinitySettings? = nil
    ) {
        self.monitors = monitors
        self.credentials = credentials
        self.netNamespace = netNamespace
        self.readAffinity = readAffinity
    }

    /// `mon_host` as librados and the rbd CLI take it.
    public var monitorList: String { monitors.joined(separator: ",") }
}

extension ClusterAccess {
    /// How to reach a configured cluster as `credentials`: its monitors, bare addresses given
    /// the messenger protocol their port speaks (`MonitorAddresses`).
    public static func resolving(_ cluster: ClusterConfig.Cluster, credentials: CephCredentials) async -> ClusterAccess {
        ClusterAccess(
            monitors: await MonitorAddresses.withProtocols(cluster.monitors), credentials: credentials,
            netNamespace: cluster.rbd?.netNamespaceFilePath.flatMap { $0.isEmpty ? nil : $0 },
            readAffinity: cluster.readAffinity
        )
    }
}
