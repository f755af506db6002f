/// Where and as whom to reach a Ceph cluster: its monitors and a user's credentials.
public struct ClusterAccess: Sendable {
    public var monitors: [String]
    public var credentials: CephCredentials

    public init(monitors: [String], credentials: CephCredentials) {
        self.monitors = monitors
        self.credentials = credentials
    }

    /// `mon_host` as librados and the rbd CLI take it.
    public var monitorList: String { monitors.joined(separator: ",") }
}

extension ClusterAccess {
    /// How to reach a configured cluster as `credentials`: its monitors, bare addresses given
    /// the messenger protocol their port speaks (`MonitorAddresses`).
    public static func resolving(_ cluster: ClusterConfig.Cluster, credentials: CephCredentials) async -> ClusterAccess {
        ClusterAccess(monitors: await MonitorAddresses.withProtocols(cluster.monitors), credentials: credentials)
    }
}
