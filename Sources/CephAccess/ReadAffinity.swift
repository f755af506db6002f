/// ceph-csi's read affinity for krbd: reads go to the OSD nearest this node
/// (`read_from_replica=localize,crush_location=zone:z1|host:n1`), the CRUSH location coming
/// from this node's labels.
///
/// As in ceph-csi v3.12, the cluster config decides: without `readAffinity.enabled` on the
/// volume's cluster nothing is added; its `crushLocationLabels` if it names any, else the
/// labels of `--crush-location-labels` when the plugin runs with `--enable-read-affinity`.
public struct ReadAffinity: Sendable, Hashable {
    /// This node's labels (its Node object's, or `--node-labels-file`).
    public var nodeLabels: [String: String]
    /// `--crush-location-labels` with `--enable-read-affinity`; nil without it.
    public var commandLineLabels: String?

    public init(nodeLabels: [String: String] = [:], commandLineLabels: String? = nil) {
        self.nodeLabels = nodeLabels
        self.commandLineLabels = commandLineLabels
    }

    /// The krbd map options for a volume of a cluster with `settings` (none, or both options).
    public func mapOptions(for settings: ClusterConfig.Cluster.ReadAffinitySettings?) -> [String] {
        guard let settings, settings.enabled else { return [] }
        let labels = settings.crushLocationLabels.isEmpty ? (commandLineLabels ?? "") : settings.crushLocationLabels.joined(separator: ",")
        let location = Self.crushLocation(labels: labels, nodeLabels: nodeLabels)
        guard !location.isEmpty else { return [] }
        // Sorted, so that the same node always maps with the same options (ceph-csi's order
        // is Go's map order).
        let pairs = location.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }
        return ["read_from_replica=localize", "crush_location=" + pairs.joined(separator: "|")]
    }

    /// CRUSH location type → value for the comma-separated `labels` this node has with a value:
    /// the type is the label's name after its prefix (`hostname` becomes CRUSH's `host`), dots
    /// in values become dashes, as CRUSH names need.
    public static func crushLocation(labels: String, nodeLabels: [String: String]) -> [String: String] {
        var location: [String: String] = [:]
        for label in labels.split(separator: ",").map({ $0.trimmingWhitespace() }) where !label.isEmpty {
            guard let value = nodeLabels[label]?.trimmingWhitespace(), !value.isEmpty else { continue }
            var type = label.split(separator: "/", maxSplits: 1).count == 2 ? String(label.split(separator: "/", maxSplits: 1)[1]) : label
            type = type.trimmingWhitespace()
            if type == "hostname" { type = "host" }
            location[type] = value.replacingDots()
        }
        return location
    }
}

extension String {
    fileprivate func replacingDots() -> String {
        String(map { $0 == "." ? "-" : $0 })
    }
}
