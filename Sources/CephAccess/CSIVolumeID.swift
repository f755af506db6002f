/// A volume id made by a ceph-csi compatible controller (ceph-csi's `CSIIdentifier`):
///
///     VVVV-LLLL-<clusterID>-<poolID>-<objectUUID>
///
/// `VVVV` is the encoding version (`0001`), `LLLL` the clusterID length, `poolID` the image
/// pool's id; all three in big-endian hex (4, 4 and 16 digits). The object UUID is 36
/// characters. The whole id is 64 to 128 characters, so a clusterID has at most 64.
public struct CSIVolumeID: Sendable, Hashable, CustomStringConvertible {
    /// The only encoding version ceph-csi has defined.
    public static let encodingVersion: UInt16 = 1
    /// Length of everything but the clusterID, separators included: 4+1+4+1+1+16+1+36.
    public static let fixedLength = 64
    /// ceph-csi's maximum volume id length.
    public static let maximumLength = 128
    public static let uuidLength = 36

    public var clusterID: String
    /// The id of the pool that holds the image and its journal entry.
    public var poolID: Int64
    /// The UUID of the journal entry `csi.volume.<objectUUID>` (and of the image name).
    public var objectUUID: String

    /// Why a string is not a CSI volume id.
    public struct DecodingError: Error, Sendable, Hashable, CustomStringConvertible {
        public var id: String
        public var reason: String
        public var description: String { "volume ID \(id) is not a CSI volume ID: \(reason)" }
    }

    /// Why an id cannot be encoded.
    public struct EncodingError: Error, Sendable, Hashable, CustomStringConvertible {
        public var reason: String
        public var description: String { "cannot encode a CSI volume ID: \(reason)" }
    }

    public init(clusterID: String, poolID: Int64, objectUUID: String) {
        self.clusterID = clusterID
        self.poolID = poolID
        self.objectUUID = objectUUID
    }

    /// Decodes `id`, checking every field: version, lengths, separators, hex digits, UUID layout.
    public init(decoding id: String) throws(DecodingError) {
        func fail(_ reason: String) -> DecodingError { DecodingError(id: id, reason: reason) }
        let bytes = Array(id.utf8)
        guard bytes.count >= Self.fixedLength else {
            throw fail("\(bytes.count) characters, shorter than the minimum \(Self.fixedLength)")
        }
        guard bytes.count <= Self.maximumLength else {
            throw fail("\(bytes.count) characters, longer than the maximum \(Self.maximumLength)")
        }
        guard let version = Self.hexValue(bytes[0..<4]), bytes[4] == UInt8(ascii: "-") else {
            throw fail("it does not start with a 4-digit hex version and '-'")
        }
        guard version == UInt64(Self.encodingVersion) else {
            throw fail("unknown encoding version \(version)")
        }
        guard let clusterLength = Self.hexValue(bytes[5..<9]).map(Int.init), bytes[9] == UInt8(ascii: "-") else {
            throw fail("no 4-digit hex clusterID length at characters 6-9")
        }
        guard clusterLength > 0 else { throw fail("the clusterID is empty") }
        guard bytes.count == Self.fixedLength + clusterLength else {
            throw fail("a clusterID of \(clusterLength) characters needs an id of \(Self.fixedLength + clusterLength) characters, not \(bytes.count)")
        }
        let poolStart = 10 + clusterLength + 1
        guard bytes[poolStart - 1] == UInt8(ascii: "-") else { throw fail("no '-' after the clusterID") }
        guard let pool = Self.hexValue(bytes[poolStart..<poolStart + 16]), bytes[poolStart + 16] == UInt8(ascii: "-") else {
            throw fail("no 16-digit hex pool id after the clusterID")
        }
        guard pool <= UInt64(Int64.max) else { throw fail("pool id \(pool) is out of range") }
        let uuid = bytes[(poolStart + 17)...]
        guard Self.isUUID(uuid) else { throw fail("the object UUID \(String(decoding: uuid, as: UTF8.self)) is not a UUID") }
        clusterID = String(decoding: bytes[10..<10 + clusterLength], as: UTF8.self)
        poolID = Int64(pool)
        objectUUID = String(decoding: uuid, as: UTF8.self)
    }

    /// The id in ceph-csi's encoding, lowercase hex.
    public func encoded() throws(EncodingError) -> String {
        let clusterLength = clusterID.utf8.count
        guard clusterLength > 0 else { throw EncodingError(reason: "the clusterID is empty") }
        guard Self.fixedLength + clusterLength <= Self.maximumLength else {
            throw EncodingError(reason: "clusterID \(clusterID) is \(clusterLength) characters; at most \(Self.maximumLength - Self.fixedLength) fit")
        }
        guard poolID >= 0 else { throw EncodingError(reason: "pool id \(poolID) is negative") }
        guard Self.isUUID(Array(objectUUID.utf8)[...]) else { throw EncodingError(reason: "object UUID \(objectUUID) is not a UUID") }
        return [
            Self.hex(UInt64(Self.encodingVersion), digits: 4), Self.hex(UInt64(clusterLength), digits: 4),
            clusterID, Self.hex(UInt64(poolID), digits: 16), objectUUID,
        ].joined(separator: "-")
    }

    public var description: String { (try? encoded()) ?? "\(clusterID)/\(poolID)/\(objectUUID)" }

    /// The journal object of this volume: `csi.volume.<objectUUID>`.
    public var journalObject: String { VolumeJournal.Kind.volumes.entryObject(objectUUID) }

    private static func hexValue(_ digits: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        for digit in digits {
            guard let nibble = nibble(digit) else { return nil }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    /// 8-4-4-4-12 hex digits.
    private static func isUUID(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard bytes.count == uuidLength else { return false }
        for (offset, c) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(offset) {
                guard c == UInt8(ascii: "-") else { return false }
            } else if nibble(c) == nil {
                return false
            }
        }
        return true
    }
}
