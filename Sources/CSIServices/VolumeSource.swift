import CephAccess

/// A CreateVolume content source (contract §5, §7): the snapshot or volume a new volume is
/// cloned from, checked as ceph-csi checks it, and the steps of that clone.
struct VolumeSource {
    /// The snapshot or volume; its image is what the clone is made from (a snapshot's
    /// `csi-snap-<uuid>` image, cloned from its snapshot of the same name).
    var located: LocatedImage
    var isSnapshot: Bool
    var size: UInt64

    /// The snapshot or volume a CreateVolume request names: missing → NOT_FOUND; another
    /// cluster, other encryption or a larger source → INVALID_ARGUMENT.
    static func resolve(_ parameters: CreateVolumeParameters, host: ControllerHost) async throws -> VolumeSource? {
        guard let contentSource = parameters.contentSource else { return nil }
        guard let id = contentSource.id else { throw CSIError.invalidArgument("volume content source has neither a snapshot nor a volume") }
        let isSnapshot = contentSource.isSnapshot
        let what = isSnapshot ? "snapshot" : "volume"
        guard !id.isEmpty else { throw CSIError.notFound("\(what) content source has an empty id") }
        let journal = isSnapshot ? host.journal.snapshots : host.journal
        guard let located = try await LocatedImage.locate(id, credentials: parameters.credentials, journal: journal, host: host),
              located.requestName != nil, !isSnapshot || located.reservation.value(JournalEntry.Key.source) != nil else {
            throw CSIError.notFound("source \(what) \(id) does not exist")
        }
        guard located.clusterID == parameters.clusterID else {
            throw CSIError.invalidArgument("source \(what) \(id) is in cluster \(located.clusterID), not \(parameters.clusterID): clones stay in their cluster")
        }
        let size: UInt64
        do {
            size = try await host.provisioner.imageDetails(located.spec, access: located.access).size
        } catch CephAccessError.imageNotFound {
            throw CSIError.notFound("\(id) image does not exist")
        }
        if located.encrypted != parameters.encrypted {
            throw CSIError.invalidArgument(parameters.encrypted ? "cannot create encrypted volume from unencrypted \(what)" : "cannot create unencrypted volume from encrypted \(what)")
        }
        guard parameters.sizeBytes >= size else {
            throw CSIError.invalidArgument("volume size \(parameters.sizeBytes) is smaller than source \(what) size \(size)")
        }
        return VolumeSource(located: located, isSnapshot: isSnapshot, size: size)
    }

    /// ceph-csi's checks before a clone is made: a restore's snapshot image with both depth
    /// limits lowered by 1 (the restore adds one link); a clone's source parent lowered by 2
    /// (the clone adds two), and the source's snapshot count.
    func limitChains(_ cloner: ImageCloner) async throws {
        let access = located.access
        let limits = cloner.host.cloneLimits
        if isSnapshot {
            let (hard, soft) = limits.lowered(by: 1)
            try await cloner.limitDepth(of: located.spec, hard: hard, soft: soft, access: access)
            return
        }
        if let parent = try await cloner.host.provisioner.imageDetails(located.spec, access: access).parent, !parent.trashed {
            let (hard, soft) = limits.lowered(by: 2)
            try await cloner.limitDepth(of: parent.spec, hard: hard, soft: soft, access: access)
        }
        try await cloner.limitSnapshots(on: located.spec, access: access)
    }

    /// The temporary clone between a volume and its clone: `<target>-temp`, kept as the
    /// clone's parent (ceph-csi's layout).
    static func temporaryClone(of spec: ImageSpec) -> ImageSpec {
        ImageSpec(pool: spec.pool, radosNamespace: spec.radosNamespace, image: spec.image + "-temp")
    }

    /// Clones the source into `spec`: a restore straight from the snapshot image's snapshot; a
    /// volume clone through `<target>-temp`. Then the key, sealed for the new id, and the
    /// requested size.
    func build(_ spec: ImageSpec, volumeID: String, parameters: CreateVolumeParameters, cloner: ImageCloner) async throws {
        let provisioner = cloner.host.provisioner
        let access = located.access
        let parent = located.spec
        if isSnapshot {
            try await provisioner.cloneImage(parent, snapshot: parent.image, to: spec, features: parameters.features, dataPool: parameters.dataPool, access: access)
        } else {
            let temporary = Self.temporaryClone(of: spec)
            try await cloner.cloneThroughTransientSnapshot(parent, to: temporary, features: ImageCloner.helperFeatures, dataPool: nil, access: access)
            try await cloner.cloneThroughTransientSnapshot(temporary, to: spec, features: parameters.features, dataPool: parameters.dataPool, access: access)
        }
        if located.encrypted {
            try await cloner.copyEncryption(from: parent, sourceID: located.id, to: spec, targetID: volumeID, passphrase: parameters.metadataKMSPassphrase, access: access)
        }
        try await provisioner.growImage(spec, to: parameters.sizeBytes, access: access)
    }

    /// Drops the transient snapshots a volume clone into `spec` makes (`<source>@<spec>-temp`,
    /// `<spec>-temp@<spec>`), where a clone cut short left them as ordinary snapshots: each
    /// would pin its image, and count against `--maxsnapshotsonimage`, for good. Dropped, a
    /// snapshot that a clone still uses moves to the trash namespace, as in a whole clone.
    func dropTransientSnapshots(of spec: ImageSpec, cloner: ImageCloner) async throws {
        guard !isSnapshot else { return }
        let provisioner = cloner.host.provisioner
        let temporary = Self.temporaryClone(of: spec)
        try await provisioner.removeSnapshot(of: temporary, named: spec.image, access: located.access)
        try await provisioner.removeSnapshot(of: located.spec, named: temporary.image, access: located.access)
    }

    /// Removes what a clone cut short left: the image, its temporary clone and the
    /// transient snapshots.
    func remove(_ spec: ImageSpec, cloner: ImageCloner) async throws {
        let provisioner = cloner.host.provisioner
        let access = located.access
        try await provisioner.removeImage(spec, access: access)
        guard !isSnapshot else { return }
        let temporary = Self.temporaryClone(of: spec)
        try await provisioner.removeSnapshot(of: temporary, named: spec.image, access: access)
        try await provisioner.removeImage(temporary, access: access)
        try await provisioner.removeSnapshot(of: located.spec, named: temporary.image, access: access)
    }
}
