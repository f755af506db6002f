import FoundationEssentials

/// ceph-csi's cluster config file: `[{"clusterID": "...", "monitors": ["host:port"],
/// "rbd": {"radosNamespace": "...", "netNamespaceFilePath": "..."}}]`, default
/// `/etc/ceph-csi-config/config.json`.
public struct ClusterConfig: Sendable {
    public struct Cluster: Sendable, Hashable, Decodable {
        public struct RBD: Sendable, Hashable, Decodable {
            public var radosNamespace: String?
            /// The network namespace the node maps images in (ceph-csi's Multus support).
            public var netNamespaceFilePath: String?
        }
        /// ceph-csi's per-cluster read affinity (`"readAffinity": {"enabled": true,
        /// "crushLocationLabels": ["topology.kubernetes.io/zone"]}`).
        public struct ReadAffinitySettings: Sendable, Hashable, Decodable {
            public var enabled: Bool
            public var crushLocationLabels: [String]

            public init(enabled: Bool, crushLocationLabels: [String] = []) {
                self.enabled = enabled
                self.crushLocationLabels = crushLocationLabels
            }

            enum CodingKeys: String, CodingKey { case enabled, crushLocationLabels }

            public init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? false
                crushLocationLabels = try container.decodeIfPresent([String].self, forKey: .crushLocationLabels) ?? []
            }
        }
        public var clusterID: String
        public var monitors: [String]
        public var rbd: RBD?
        public var readAffinity: ReadAffinitySettings?
    }

    public static let defaultPath = "/etc/ceph-csi-config/config.json"

    public let path: String

    public init(path: String = ClusterConfig.defaultPath) {
        self.path = path
    }

    /// The cluster named `clusterID`, read from the file on every call (the file is a
    /// ConfigMap that may change while the plugin runs).
    public func cluster(_ clusterID: String) throws -> Cluster {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CephAccessError.badConfig(file: path, reason: "cannot read the file")
        }
        let clusters: [Cluster]
        do {
            clusters = try JSONDecoder().decode([Cluster].self, from: data)
        } catch {
            throw CephAccessError.badConfig(file: path, reason: "\(error)")
        }
        guard let cluster = clusters.first(where: { $0.clusterID == clusterID }) else {
            throw CephAccessError.unknownCluster(clusterID, configFile: path)
        }
        guard !cluster.monitors.isEmpty else {
            throw CephAccessError.badConfig(file: path, reason: "clusterID \(clusterID) has no monitors")
        }
        return cluster
    }
}
