import FoundationEssentials
import HostOperations

/// Parses `rbd device list --format json` / `rbd-nbd list-mapped --format json`:
/// `[{"id":"0","pool":"rbd","namespace":"","name":"img","snap":"-","device":"/dev/rbd0"}]`;
/// rbd-nbd says `image` for `name` and an empty `snap` for the image head.
public enum DeviceListParser {
    private struct Entry: Decodable {
        var pool: String?
        var namespace: String?
        var name: String?
        var image: String?
        var snap: String?
        var device: String?
    }

    /// The device of `spec` (its head, not a snapshot), or nil.
    public static func device(of spec: ImageSpec, in json: String) throws -> String? {
        let trimmed = json.trimmingWhitespace()
        if trimmed.isEmpty { return nil }
        let entries = try JSONDecoder().decode([Entry].self, from: Data(trimmed.utf8))
        return entries.first { entry in
            entry.pool == spec.pool && (entry.namespace ?? "") == spec.radosNamespace
                && (entry.name ?? entry.image) == spec.image && ["-", ""].contains(entry.snap ?? "-")
        }?.device
    }
}
