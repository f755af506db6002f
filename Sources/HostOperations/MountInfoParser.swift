/// Parses the text of `/proc/PID/mountinfo` (see proc(5)).
///
/// It works on the text's UTF-8 bytes: the fields are separated by ASCII spaces and the kernel
/// escapes any space, tab, newline or backslash inside them, so no field boundary needs
/// Unicode-aware (grapheme) iteration, which made a parse of a 150-line table cost about a
/// millisecond.
public enum MountInfoParser {
    /// Every well-formed line as an entry; malformed lines are skipped.
    public static func parse(_ text: String) -> [MountEntry] {
        text.utf8.split(separator: UInt8(ascii: "\n")).compactMap(parseLine)
    }

    static func parseLine(_ line: Substring.UTF8View) -> MountEntry? {
        let fields = line.split(separator: UInt8(ascii: " "))
        // 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
        guard fields.count >= 10, let separator = fields.firstIndex(where: { $0.elementsEqual("-".utf8) }),
              separator >= 6, separator + 3 <= fields.count,
              let mountID = Int(Substring(fields[0])), let parentID = Int(Substring(fields[1]))
        else { return nil }
        return MountEntry(
            mountID: mountID,
            parentID: parentID,
            device: String(Substring(fields[2])),
            root: unescape(fields[3]),
            mountPoint: unescape(fields[4]),
            mountOptions: list(fields[5]),
            fsType: String(Substring(fields[separator + 1])),
            source: unescape(fields[separator + 2]),
            superOptions: separator + 3 < fields.count ? list(fields[separator + 3]) : []
        )
    }

    private static func list(_ field: Substring.UTF8View) -> [String] {
        field.split(separator: UInt8(ascii: ",")).map { String(Substring($0)) }
    }

    /// Undoes the kernel's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` backslash).
    static func unescape(_ field: Substring.UTF8View) -> String {
        let backslash = UInt8(ascii: "\\")
        guard field.contains(backslash) else { return String(Substring(field)) }
        var bytes: [UInt8] = []
        let utf8 = Array(field)
        var i = 0
        while i < utf8.count {
            if utf8[i] == backslash, i + 3 < utf8.count, let value = octal(utf8[(i + 1)...(i + 3)]) {
                bytes.append(value)
                i += 4
            } else {
                bytes.append(utf8[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Three octal digits as the byte they spell; nil for anything else (or above 0o377).
    private static func octal(_ digits: ArraySlice<UInt8>) -> UInt8? {
        var value = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "7") else { return nil }
            value = value * 8 + Int(digit - UInt8(ascii: "0"))
        }
        return value <= 0xFF ? UInt8(value) : nil
    }
}
