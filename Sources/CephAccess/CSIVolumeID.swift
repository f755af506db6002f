/// The layout of volume ids made by a ceph-csi compatible controller:
/// `VVVV-LLLL-<clusterID>-<poolID as 16 hex>-<uuid 36>`, 64 to 128 characters.
public enum CSIVolumeID {
    /// Whether `id` has that layout (version 0001, a consistent clusterID length).
    public static func isWellFormed(_ id: String) -> Bool {
        let chars = Array(id.utf8)
        guard (64...128).contains(chars.count), id.hasPrefix("0001-"), chars[9] == UInt8(ascii: "-"),
              let clusterLength = Int(String(decoding: chars[5..<9], as: UTF8.self), radix: 16)
        else { return false }
        // 10 + clusterID + "-" + 16 hex + "-" + 36 uuid
        return chars.count == 10 + clusterLength + 1 + 16 + 1 + 36
    }
}
