import HostOperations

/// The volume context's `mapOptions`/`unmapOptions`: `"krbd:o1,o2;nbd:o3"`, parsed as
/// ceph-csi's `parseMapOptions` does: parts split at `;`, each at its first `:` (option values
/// may hold more), the prefix `krbd` or `nbd` in any case, a part without one is krbd's, and
/// the last part for a mounter wins.
public struct MapOptions: Sendable, Hashable {
    public var krbd: [String] = []
    public var nbd: [String] = []

    public init(krbd: [String] = [], nbd: [String] = []) {
        self.krbd = krbd
        self.nbd = nbd
    }

    public enum ParseError: Error, Sendable, CustomStringConvertible {
        case unknownPrefix(String)
        public var description: String {
            switch self {
            case let .unknownPrefix(prefix): return "unknown mounter \"\(prefix)\" in map options; use krbd: or nbd:"
            }
        }
    }

    public init(parsing text: String) throws(ParseError) {
        for part in text.split(separator: ";") {
            let trimmed = part.trimmingWhitespace()
            if trimmed.isEmpty { continue }
            var prefix = "krbd"
            var body = Substring(trimmed)
            if let colon = trimmed.firstIndex(of: ":") {
                prefix = String(trimmed[..<colon]).trimmingWhitespace()
                body = trimmed[trimmed.index(after: colon)...]
            }
            let options = body.split(separator: ",").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
            switch prefix.lowercased() {
            case "krbd": krbd = options
            case "nbd": nbd = options
            default: throw .unknownPrefix(prefix)
            }
        }
    }

    /// The options for one mapper (rbd-fuse takes none).
    public func options(for kind: MapperKind) -> [String] {
        switch kind {
        case .krbd: return krbd
        case .nbd: return nbd
        case .fuse: return []
        }
    }
}
