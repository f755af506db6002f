import CLibCeph

#if canImport(Glibc)
import Glibc
#endif

/// ceph-csi's volume and snapshot journals, as v3.12 writes them (contract §3). Volumes:
/// directory object `csi.volumes.<instanceid>` maps `csi.volume.<request name>` to a UUID, and
/// object `csi.volume.<uuid>` holds the entry (`csi.volname`, `csi.imagename`, `csi.imageid`,
/// …). Snapshots: `csi.snaps.<instanceid>`, `csi.snap.<name>`, `csi.snap.<uuid>` with
/// `csi.snapname` and `csi.source`. Directory, entry and image share one pool and RADOS
/// namespace. Each method blocks.
public struct VolumeJournal: Sendable {
    /// Which of ceph-csi's two journals: they differ only in their object and key names, which
    /// are all spelled here.
    public enum Kind: Sendable {
        case volumes, snapshots

        /// The prefix of directory keys and entry objects: `csi.volume.` or `csi.snap.`.
        var prefix: String { self == .volumes ? "csi.volume." : "csi.snap." }
        /// The entry object of `uuid`.
        public func entryObject(_ uuid: String) -> String { prefix + uuid }
        /// The entry key holding the request name: `csi.volname` or `csi.snapname`.
        public var requestNameKey: String { self == .volumes ? JournalEntry.Key.requestName : JournalEntry.Key.snapshotName }
        /// The entry keys a lookup reads.
        public var entryKeys: [String] { self == .volumes ? JournalEntry.Key.all : JournalEntry.Key.allOfSnapshots }
        /// The image name prefix of entries without `csi.imagename`.
        public var defaultImagePrefix: String { self == .volumes ? JournalEntry.defaultImagePrefix : JournalEntry.defaultSnapshotPrefix }
    }

    public let instanceID: String
    public let kind: Kind

    public init(instanceID: String, kind: Kind = .volumes) {
        self.instanceID = instanceID
        self.kind = kind
    }

    /// The snapshot journal of the same driver instance.
    public var snapshots: VolumeJournal { VolumeJournal(instanceID: instanceID, kind: .snapshots) }

    public var directoryObject: String { (kind == .volumes ? "csi.volumes." : "csi.snaps.") + instanceID }
    public func directoryKey(_ requestName: String) -> String { kind.prefix + requestName }
    public func entryObject(_ uuid: String) -> String { kind.entryObject(uuid) }
    public var requestNameKey: String { kind.requestNameKey }
    public var entryKeys: [String] { kind.entryKeys }

    /// A request name's reservation: its UUID and its entry's omap (nil: the entry object is
    /// missing, as after a reservation cut short).
    public struct Reservation: Sendable, Hashable {
        public var uuid: String
        public var values: [String: String]?
        public var kind: Kind

        public init(uuid: String, values: [String: String]?, kind: Kind = .volumes) {
            self.uuid = uuid
            self.values = values
            self.kind = kind
        }

        /// The non-empty value of `key`.
        public func value(_ key: String) -> String? { values?[key].flatMap { $0.isEmpty ? nil : $0 } }

        /// The image name: `csi.imagename`, or ceph-csi's default for entries without one.
        public var imageName: String {
            value(JournalEntry.Key.imageName) ?? kind.defaultImagePrefix + uuid
        }

        /// The request name stored in the entry (`csi.volname` or `csi.snapname`).
        public var requestName: String? { value(kind.requestNameKey) }
    }

    /// The reservation of `requestName`, or nil. Directory values are a bare UUID or, as
    /// ceph-csi writes them when the journal pool differs, `<16-hex pool id>/<uuid>`.
    public func reservation(of requestName: String, in ioctx: rados_ioctx_t) throws(CephAccessError) -> Reservation? {
        let key = directoryKey(requestName)
        guard let raw = try RadosOmap.values(of: directoryObject, keys: [key], in: ioctx)?[key], !raw.isEmpty else { return nil }
        let uuid = raw.utf8.count == CSIVolumeID.uuidLength ? raw : String(raw.split(separator: "/").last ?? "")
        return Reservation(uuid: uuid, values: try entry(uuid: uuid, in: ioctx), kind: kind)
    }

    /// The omap of entry `uuid` (nil when its object is missing).
    public func entry(uuid: String, in ioctx: rados_ioctx_t) throws(CephAccessError) -> [String: String]? {
        try RadosOmap.values(of: entryObject(uuid), keys: entryKeys, in: ioctx)
    }

    /// Reserves `requestName`: sets the directory key to a fresh UUID (five tries on a
    /// collision; a given `uuid` gets one), then creates the entry object together with its
    /// keys in one exclusive write. No crash can so leave an entry object that no key leads
    /// to: a crash between the two leaves a key whose entry is missing, which the next lookup
    /// repairs (ours and ceph-csi's alike). A failure undoes the key.
    public func reserve(
        _ requestName: String, imagePrefix: String, values: [String: String], uuid given: String?, in ioctx: rados_ioctx_t
    ) throws(CephAccessError) -> String {
        let attempts = given == nil ? 5 : 1
        for attempt in 1...attempts {
            let uuid = given ?? Self.randomUUID()
            var entry = values
            entry[requestNameKey] = requestName
            entry[JournalEntry.Key.imageName] = imagePrefix + uuid
            do {
                try RadosObjects.setValues([directoryKey(requestName): uuid], of: directoryObject, in: ioctx)
                if try RadosObjects.createExclusive(entryObject(uuid), values: entry, in: ioctx) { return uuid }
            } catch {
                try? RadosObjects.removeKeys([directoryKey(requestName)], of: directoryObject, in: ioctx)
                throw error
            }
            // Another reservation owns this UUID: its entry is left alone, the key moves on.
            if attempt == attempts {
                try? RadosObjects.removeKeys([directoryKey(requestName)], of: directoryObject, in: ioctx)
            }
        }
        throw .callFailed(operation: "reserve \(requestName): uuid conflicts exceeds retry threshold", errno: EEXIST)
    }

    /// Removes a reservation found by its name (a create that failed, or repairs an earlier
    /// one): the entry object, then the directory key while it still leads to `uuid` (missing
    /// ones are fine). A crash in between leaves a key whose entry is gone, which the next
    /// create of the name repairs; the reverse order would leave an entry no key leads to.
    public func undo(uuid: String, requestName: String?, in ioctx: rados_ioctx_t) throws(CephAccessError) {
        try RadosObjects.remove(entryObject(uuid), in: ioctx)
        if let requestName { try removeDirectoryKey(requestName, leadingTo: uuid, in: ioctx) }
    }

    /// Removes the reservation of a volume or snapshot being deleted, found by its id: the
    /// directory key first (while it still leads to `uuid`), then the entry object. A crash in
    /// between leaves the entry, which the delete's retry finds by the same id and removes with
    /// the name it holds; the reverse order (`undo`'s, and ceph-csi's) would leave a key that
    /// neither an id nor, once the volume is gone, a create of its name ever leads to again.
    public func release(uuid: String, requestName: String?, in ioctx: rados_ioctx_t) throws(CephAccessError) {
        if let requestName { try removeDirectoryKey(requestName, leadingTo: uuid, in: ioctx) }
        try RadosObjects.remove(entryObject(uuid), in: ioctx)
    }

    /// Removes the directory key of `requestName` if its value names `uuid` (bare, or as
    /// ceph-csi writes it with a pool id), in one compare-and-remove write: a key another
    /// reservation of the same name has taken since is not this call's to remove.
    private func removeDirectoryKey(_ requestName: String, leadingTo uuid: String, in ioctx: rados_ioctx_t) throws(CephAccessError) {
        let key = directoryKey(requestName)
        // The bare UUID, as this plugin (and ceph-csi with the journal in the image's pool)
        // writes it: one write, no read first.
        if try RadosObjects.removeKey(key, ifValue: uuid, of: directoryObject, in: ioctx) { return }
        // Else ceph-csi's `<pool id>/<uuid>`, another reservation's UUID, or no key at all.
        guard let raw = try RadosOmap.values(of: directoryObject, keys: [key], in: ioctx)?[key], raw != uuid,
              raw.split(separator: "/").last.map(String.init) == uuid else { return }
        try RadosObjects.removeKey(key, ifValue: raw, of: directoryObject, in: ioctx)
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
