import CLibCeph

#if canImport(Glibc)
import Glibc
#endif

/// ceph-csi's volume journal, as v3.12 writes it (contract §3): directory object
/// `csi.volumes.<instanceid>` maps `csi.volume.<request name>` to a UUID, and object
/// `csi.volume.<uuid>` holds the entry (`csi.volname`, `csi.imagename`, `csi.imageid`, …).
/// Directory, entry and image share one pool and RADOS namespace. Each method blocks.
public struct VolumeJournal: Sendable {
    public let instanceID: String

    public init(instanceID: String) {
        self.instanceID = instanceID
    }

    public var directoryObject: String { "csi.volumes.\(instanceID)" }
    public static func directoryKey(_ requestName: String) -> String { "csi.volume.\(requestName)" }
    public static func entryObject(_ uuid: String) -> String { "csi.volume.\(uuid)" }

    /// A request name's reservation: its UUID and its entry's omap (nil: the entry object is
    /// missing, as after a reservation cut short).
    public struct Reservation: Sendable, Hashable {
        public var uuid: String
        public var values: [String: String]?

        public init(uuid: String, values: [String: String]?) {
            self.uuid = uuid
            self.values = values
        }

        /// The image name: `csi.imagename`, or ceph-csi's default for entries without one.
        public var imageName: String {
            values?[JournalEntry.Key.imageName].flatMap { $0.isEmpty ? nil : $0 } ?? JournalEntry.defaultImagePrefix + uuid
        }
    }

    /// The reservation of `requestName`, or nil. Directory values are a bare UUID or, as
    /// ceph-csi writes them when the journal pool differs, `<16-hex pool id>/<uuid>`.
    public func reservation(of requestName: String, in ioctx: rados_ioctx_t) throws(CephAccessError) -> Reservation? {
        let key = Self.directoryKey(requestName)
        guard let raw = try RadosOmap.values(of: directoryObject, keys: [key], in: ioctx)?[key], !raw.isEmpty else { return nil }
        let uuid = raw.utf8.count == CSIVolumeID.uuidLength ? raw : String(raw.split(separator: "/").last ?? "")
        let values = try RadosOmap.values(of: Self.entryObject(uuid), keys: JournalEntry.Key.all, in: ioctx)
        return Reservation(uuid: uuid, values: values)
    }

    /// Reserves `requestName`: exclusive-creates the entry object (a fresh UUID, five tries on a
    /// collision; a given `uuid` gets one), sets the directory key, then the entry's keys. A
    /// failure after the directory key undoes it.
    public func reserve(
        _ requestName: String, imagePrefix: String, values: [String: String], uuid given: String?, in ioctx: rados_ioctx_t
    ) throws(CephAccessError) -> String {
        var uuid = ""
        for attempt in 1...(given == nil ? 5 : 1) {
            uuid = given ?? Self.randomUUID()
            if try RadosObjects.createExclusive(Self.entryObject(uuid), in: ioctx) { break }
            if attempt == (given == nil ? 5 : 1) {
                throw .callFailed(operation: "reserve \(requestName): uuid conflicts exceeds retry threshold", errno: EEXIST)
            }
        }
        do {
            try RadosObjects.setValues([Self.directoryKey(requestName): uuid], of: directoryObject, in: ioctx)
            var entry = values
            entry[JournalEntry.Key.requestName] = requestName
            entry[JournalEntry.Key.imageName] = imagePrefix + uuid
            try RadosObjects.setValues(entry, of: Self.entryObject(uuid), in: ioctx)
        } catch {
            try? undo(uuid: uuid, requestName: requestName, in: ioctx)
            throw error
        }
        return uuid
    }

    /// Removes a reservation: the entry object, then the directory key (missing ones are fine),
    /// so that a crash in between leaves a key whose entry is gone, which a later lookup repairs.
    public func undo(uuid: String, requestName: String?, in ioctx: rados_ioctx_t) throws(CephAccessError) {
        try RadosObjects.remove(Self.entryObject(uuid), in: ioctx)
        if let requestName {
            try RadosObjects.removeKeys([Self.directoryKey(requestName)], of: directoryObject, in: ioctx)
        }
    }

    /// A random (version 4) UUID in lowercase, as ceph-csi makes them.
    static func randomUUID() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes[6] = bytes[6] & 0x0f | 0x40
        bytes[8] = bytes[8] & 0x3f | 0x80
        let hex = bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20)]
        return parts.map(String.init).joined(separator: "-")
    }
}
