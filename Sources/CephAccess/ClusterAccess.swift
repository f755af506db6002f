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
