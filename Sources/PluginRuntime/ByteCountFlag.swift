/// A size given on the command line: a whole number of bytes, or one with a binary suffix
/// `Ki` to `Ei` as Kubernetes spells quantities (`1Pi`, `500Gi`).
public enum ByteCountFlag {
    /// The largest size a flag may give: the last whole GiB a CSI capacity (an int64) holds,
    /// so that no size rounded up under it overflows.
    public static let maximum: UInt64 = UInt64(Int64.max) / (1 << 30) * (1 << 30)

    /// The byte count `text` gives, or nil when it is not a size, is zero, or is above
    /// `maximum`.
    public static func parse(_ text: String) -> UInt64? {
        let suffixes: [(String, UInt64)] = [("Ki", 10), ("Mi", 20), ("Gi", 30), ("Ti", 40), ("Pi", 50), ("Ei", 60)]
        var digits = Substring(text)
        var shift: UInt64 = 0
        if let (suffix, bits) = suffixes.first(where: { text.hasSuffix($0.0) }) {
            digits = digits.dropLast(suffix.count)
            shift = bits
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let number = UInt64(digits), number > 0 else { return nil }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: 1 << shift)
        guard !overflow, bytes <= maximum else { return nil }
        return bytes
    }
}
