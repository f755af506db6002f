/// A volume's entry in ceph-csi's journal: the omap of object `csi.volume.<uuid>` in the
/// image pool (and RADOS namespace), written by a ceph-csi compatible controller.
public struct JournalEntry: Sendable, Hashable {
    /// The omap keys ceph-csi's volume journal writes.
    public enum Key {
        public static let requestName = "csi.volname"
        public static let imageName = "csi.imagename"
        public static let imageID = "csi.imageid"
        public static let owner = "csi.volume.owner"
        public static let kmsID = "csi.volume.encryptKMS"
        public static let encryptionType = "csi.volume.encryptionType"
        public static let all = [requestName, imageName, imageID, owner, kmsID, encryptionType]
        /// The snapshot journal's request name, and the source volume's image name.
        public static let snapshotName = "csi.snapname"
        public static let source = "csi.source"
        public static let allOfSnapshots = [snapshotName, imageName, imageID, source, owner, kmsID, encryptionType]
    }

    /// Image names default to this prefix and the UUID (journal entries older than `csi.imagename`).
    public static let defaultImagePrefix = "csi-vol-"
    /// Snapshot images default to this prefix and the UUID (VolumeSnapshotClass `snapshotNamePrefix`).
    public static let defaultSnapshotPrefix = "csi-snap-"

    /// Where the image is: the pool named by the volume id's pool id, the cluster's namespace.
    public var spec: ImageSpec
    /// The CSI request name (the PV name) the controller reserved the entry for.
    public var requestName: String
    public var imageID: String?
    public var owner: String?
    public var kmsID: String?
    public var encryptionType: String?

    public init(spec: ImageSpec, requestName: String, imageID: String? = nil, owner: String? = nil, kmsID: String? = nil, encryptionType: String? = nil) {
        self.spec = spec
        self.requestName = requestName
        self.imageID = imageID
        self.owner = owner
        self.kmsID = kmsID
        self.encryptionType = encryptionType
    }

    /// Reads an entry from the omap `values` of `id`'s journal object in `pool`/`namespace`,
    /// with ceph-csi's rules: `csi.volname` is required, `csi.imagename` defaults to
    /// `csi-vol-<uuid>`, empty values count as absent.
    public init(id: CSIVolumeID, volumeID: String, pool: String, radosNamespace: String, values: [String: String]?) throws(CephAccessError) {
        let where_ = "\(pool)\(radosNamespace.isEmpty ? "" : "/\(radosNamespace)")"
        guard let values else {
            throw .journalEntryMissing(volumeID: volumeID, reason: "object \(id.journalObject) does not exist in pool \(where_)")
        }
        func value(_ key: String) -> String? { values[key].flatMap { $0.isEmpty ? nil : $0 } }
        guard let requestName = value(Key.requestName) else {
            throw .journalEntryMissing(volumeID: volumeID, reason: "object \(id.journalObject) in pool \(where_) has no key \(Key.requestName)")
        }
        self.init(
            spec: ImageSpec(pool: pool, radosNamespace: radosNamespace, image: value(Key.imageName) ?? Self.defaultImagePrefix + id.objectUUID),
            requestName: requestName, imageID: value(Key.imageID), owner: value(Key.owner),
            kmsID: value(Key.kmsID), encryptionType: value(Key.encryptionType)
        )
    }
}
