import HostOperations

/// Turns `--domainlabels` into the node's topology segments.
///
/// Each label `prefix/name` becomes the key `topology.<drivername>/name`, as in ceph-csi. The
/// value is given inline (`--domainlabels=topology.kubernetes.io/zone=zone-a`) or, without
/// one, read from a node-labels file of `key=value` lines (`--node-labels-file`) or, in a pod,
/// from the labels of this node's Node object (as ceph-csi does).
public enum TopologyLabels {
    public static func segments(domainLabels: String, driverName: String, nodeLabels: [String: String]) throws(PluginRuntimeError) -> [String: String] {
        var segments: [String: String] = [:]
        for item in domainLabels.split(separator: ",").map({ $0.trimmingWhitespace() }) where !item.isEmpty {
            let label: String
            let value: String
            if let equals = item.firstIndex(of: "=") {
                label = String(item[..<equals])
                value = String(item[item.index(after: equals)...])
            } else if let found = nodeLabels[item] {
                label = item
                value = found
            } else {
                throw .badFlag("--domainlabels: no value for node label \(item); give it inline (\(item)=VALUE) or in --node-labels-file")
            }
            guard !label.isEmpty, !value.isEmpty else {
                throw .badFlag("--domainlabels: empty label or value in \(item)")
            }
            let name = label.split(separator: "/").last.map(String.init) ?? label
            segments["topology.\(driverName)/\(name)"] = value
        }
        return segments
    }

    /// Parses `key=value` lines (blank lines and `#` comments skipped; values may be quoted,
    /// as in a Kubernetes downward-API labels file).
    public static func parseLabelsFile(_ text: String) -> [String: String] {
        var labels: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingWhitespace()
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") else { continue }
            var value = String(trimmed[trimmed.index(after: equals)...])
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            labels[String(trimmed[..<equals])] = value
        }
        return labels
    }
}
