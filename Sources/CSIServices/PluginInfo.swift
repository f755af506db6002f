/// What the plugin says about itself: its name, version and node.
public struct PluginInfo: Sendable, Hashable {
    /// The CSI driver name (`--drivername`), e.g. `rbd.csi.ceph.com`.
    public var driverName: String
    /// The plugin's version, reported as `vendor_version`.
    public var version: String
    /// The node id (`--nodeid`), reported by NodeGetInfo.
    public var nodeID: String
    /// Topology segments of this node (from `--domainlabels`).
    public var topology: [String: String]
    /// Whether this process serves the Controller service (`--controllerserver`).
    public var servesController: Bool

    public init(driverName: String, version: String, nodeID: String, topology: [String: String] = [:], servesController: Bool = false) {
        self.driverName = driverName
        self.version = version
        self.nodeID = nodeID
        self.topology = topology
        self.servesController = servesController
    }
}
