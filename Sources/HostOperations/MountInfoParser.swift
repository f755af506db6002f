/// Parses the text of `/proc/PID/mountinfo` (see proc(5)).
public enum MountInfoParser {
    /// Every well-formed line as an entry; malformed lines are skipped.
    public static func parse(_ text: String) -> [MountEntry] {
        text.split(separator: "\n").compactMap(parseLine)
    }

    /// The last (topmost) entry whose mount point is `mountPoint`, parsing only the lines
    /// whose fifth field matches: the cheap lookup behind stats and mount-point checks.
    public static func entry(at mountPoint: String, in text: String) -> MountEntry? {
        var found: Substring?
        for line in text.split(separator: "\n") where mountPointField(of: line).map({ matches($0, mountPoint) }) == true {
            found = line
        }
        return found.flatMap(parseLine)
    }

    /// The fifth space-separated field of a line, without splitting the rest.
    private static func mountPointField(of line: Substring) -> Substring? {
        var start = line.startIndex
        for _ in 0..<4 {
            guard let space = line[start...].firstIndex(of: " ") else { return nil }
            start = line.index(after: space)
        }
        let end = line[start...].firstIndex(of: " ") ?? line.endIndex
        return line[start..<end]
    }

    private static func matches(_ field: Substring, _ mountPoint: String) -> Bool {
        field.contains("\\") ? unescape(field) == mountPoint : field == mountPoint
    }

    static func parseLine(_ line: Substring) -> MountEntry? {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        // 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
        guard fields.count >= 10, let separator = fields.firstIndex(of: "-"), separator >= 6, separator + 3 <= fields.count,
              let mountID = Int(fields[0]), let parentID = Int(fields[1])
        else { return nil }
        return MountEntry(
            mountID: mountID,
            parentID: parentID,
            device: String(fields[2]),
            root: unescape(fields[3]),
            mountPoint: unescape(fields[4]),
            mountOptions: fields[5].split(separator: ",").map(String.init),
            fsType: String(fields[separator + 1]),
            source: unescape(fields[separator + 2]),
            superOptions: separator + 3 < fields.count ? fields[separator + 3].split(separator: ",").map(String.init) : []
        )
    }

    /// Undoes the kernel's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` backslash).
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var i = 0
        while i < utf8.count {
            if utf8[i] == UInt8(ascii: "\\"), i + 3 < utf8.count,
               let value = UInt8(String(decoding: utf8[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                bytes.append(value)
                i += 4
            } else {
                bytes.append(utf8[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
