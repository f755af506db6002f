import HostOperations

/// The image features the kernel's rbd driver can map (`/sys/bus/rbd/supported_features`, a
/// hex mask of librbd's feature bits), for ceph-csi's krbd check before a map.
public struct KernelRBDFeatures: Sendable {
    public var path: String

    public init(path: String = "/sys/bus/rbd/supported_features") {
        self.path = path
    }

    /// The supported mask, or nil when the driver is not loaded (the map itself then decides).
    public func supported() -> UInt64? {
        (try? FileText.read(path)).flatMap(Self.parse)
    }

    /// `0x1bd\n` → 0x1bd.
    static func parse(_ text: String) -> UInt64? {
        var hex = Substring(text.trimmingWhitespace().lowercased())
        if hex.hasPrefix("0x") { hex = hex.dropFirst(2) }
        return UInt64(hex, radix: 16)
    }

    /// librbd's feature bits, all of them (an image may carry ones a StorageClass cannot ask
    /// for, e.g. `operations` on a clone).
    static let names: [(UInt64, String)] = [
        (1, "layering"), (2, "striping"), (4, "exclusive-lock"), (8, "object-map"), (16, "fast-diff"), (32, "deep-flatten"),
        (64, "journaling"), (128, "data-pool"), (256, "operations"), (512, "migrating"), (1024, "non-primary"), (2048, "dirty-cache"),
    ]

    /// The names of `features` (librbd bits) outside `supported`, or [] when all are.
    public static func unsupported(_ features: UInt64, by supported: UInt64) -> [String] {
        let missing = features & ~supported
        guard missing != 0 else { return [] }
        let named = names.filter { missing & $0.0 != 0 }.map(\.1)
        return named.isEmpty ? ["0x" + String(missing, radix: 16)] : named
    }
}
