/// Which `mkfsOptions` a volume context may pass to mkfs: an allow-list of flags and of the
/// sub-options they take. The volume context comes from a StorageClass, and mkfs runs as root
/// on the node: `mkfs.ext4 -d /etc/ssh` copies host files into the volume, `-z FILE` and
/// `-l FILE` write or read host files, `-J device=`, `-l logdev=` and `-r rtdev=` put
/// journals on host devices, `-p` and `-c options=` read host files, `-n`/`-N` make nothing.
public enum MkfsOptionPolicy {
    /// A flag, and the sub-option keys it accepts: nil for a flag without a value, an empty
    /// set for a flag whose value is free text or a number.
    private typealias Flags = [Character: Set<String>?]

    private static let ext4: Flags = [
        "b": [], "C": [], "g": [], "G": [], "i": [], "I": [], "L": [], "m": [], "M": [], "N": [], "O": [],
        "r": [], "T": [], "U": [], "e": [], "o": [],
        "E": ["stride", "stripe_width", "stripe-width", "resize", "lazy_itable_init", "lazy_journal_init",
              "num_backup_sb", "packed_meta_blocks", "root_owner", "discard", "nodiscard", "quotatype",
              "encoding", "encoding_flags", "test_fs", "assume_storage_prezeroed", "orphan_file_size"],
        "J": ["size", "fast_commit_size", "location"],
        "D": nil, "F": nil, "j": nil, "q": nil, "v": nil, "K": nil,
    ]

    private static let xfs: Flags = [
        "b": ["size"],
        "m": ["crc", "finobt", "uuid", "rmapbt", "reflink", "inobtcount", "bigtime"],
        "d": ["agcount", "agsize", "size", "su", "sunit", "sw", "swidth", "noalign", "cowextsize", "extszinherit", "daxinherit", "concurrency"],
        "i": ["size", "maxpct", "align", "attr", "projid32bit", "sparse", "nrext64", "exchange"],
        "l": ["size", "version", "sunit", "su", "lazy-count", "concurrency"],
        "n": ["size", "version", "ftype", "parent"],
        "r": ["extsize"],
        "s": ["size"],
        "L": [],
        "f": nil, "K": nil, "q": nil,
    ]

    /// Why `options` are refused for `fsType`, or nil when every one is allowed.
    public static func problem(fsType: String, options: [String]) -> String? {
        let flags: Flags
        switch fsType {
        case "ext4", "ext3", "ext2": flags = ext4
        case "xfs": flags = xfs
        default: return options.isEmpty ? nil : "mkfsOptions are not supported for \(fsType)"
        }
        var index = 0
        while index < options.count {
            let token = options[index]
            index += 1
            guard token.hasPrefix("-"), token.count >= 2, !token.hasPrefix("--") else {
                return "mkfsOptions \(token.debugDescription) is not an option (the device is added by the plugin)"
            }
            let letters = Array(token.dropFirst())
            guard let entry = flags[letters[0]] else {
                return "mkfsOptions flag -\(letters[0]) is not allowed for \(fsType)"
            }
            guard let subOptions = entry else {
                // Flags without a value may be grouped (-Fq).
                for letter in letters.dropFirst() where flags[letter] != .some(nil) {
                    return "mkfsOptions \(token) groups -\(letter), which is not an allowed flag without a value"
                }
                continue
            }
            let value: String
            if letters.count > 1 {
                value = String(letters.dropFirst())
            } else {
                guard index < options.count else { return "mkfsOptions flag -\(letters[0]) needs a value" }
                value = options[index]
                index += 1
            }
            if subOptions.isEmpty { continue }
            for item in value.split(separator: ",") {
                let key = String(item.split(separator: "=", maxSplits: 1).first ?? item)
                guard subOptions.contains(key) else {
                    return "mkfsOptions -\(letters[0]) sub-option \(key) is not allowed for \(fsType)"
                }
            }
        }
        return nil
    }
}
