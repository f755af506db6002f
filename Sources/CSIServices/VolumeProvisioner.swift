import CSIProtocol
import CephAccess
import Logging

/// CreateVolume, DeleteVolume and ControllerExpandVolume on ceph-csi's on-disk layout
/// (contract §3–§8): the omap journal, `csi-vol-<uuid>` images, encoded volume ids. Every
/// step can be cut short by a crash and is finished or undone by the next call for the same
/// name or id.
struct VolumeProvisioner {
    let host: ControllerHost
    let logger: Logger
    var cloner: ImageCloner { ImageCloner(host: host, logger: logger) }

    /// The image metadata key and value ceph-csi's controller sets on a new encrypted volume;
    /// the node's first stage formats LUKS and sets `encrypted`.
    static let encryptionStateKey = "rbd.csi.ceph.com/encrypted"
    static let encryptionPrepared = "encryptionPrepared"

    func create(_ parameters: CreateVolumeParameters, from source: VolumeSource?) async throws -> Csi_V1_Volume {
        let (access, radosNamespace): (ClusterAccess, String)
        do {
            (access, radosNamespace) = try await host.access(parameters.clusterID, credentials: parameters.credentials)
        } catch let error as CephAccessError {
            throw CSIError.invalidArgument("\(error)")
        }
        let location = PoolLocation(pool: parameters.pool, radosNamespace: radosNamespace)
        let poolID: Int64
        do {
            poolID = try await host.provisioner.poolID(parameters.pool, access: access)
        } catch CephAccessError.poolNamedNotFound(let pool) {
            throw CSIError.invalidArgument("pool \(pool) to provision volume from does not exist")
        }
        var reuseUUID: String?
        if let found = try await host.provisioner.reservation(of: parameters.name, at: location, journal: host.journal, access: access) {
            let storedName = found.values?[JournalEntry.Key.requestName] ?? ""
            if !storedName.isEmpty && storedName != parameters.name {
                throw CSIError.internalError("internal state inconsistent, omap names mismatch, request name (\(parameters.name)) volume UUID (\(found.uuid)) volume omap name (\(storedName))")
            }
            if storedName == parameters.name,
               let existing = try await existingVolume(found, parameters: parameters, source: source, location: location, poolID: poolID, access: access) {
                return existing
            }
            // A reservation cut short (entry missing or incomplete), or one whose image is gone:
            // undone and made again with the same UUID.
            logger.info("repairing an incomplete reservation", metadata: ["name": "\(parameters.name)", "uuid": "\(found.uuid)"])
            if let source {
                try await source.remove(location.image(found.imageName), cloner: cloner)
            }
            try await host.provisioner.removeImage(location.image(found.imageName), access: access)
            try await host.provisioner.undoReservation(uuid: found.uuid, requestName: parameters.name, at: location, journal: host.journal, access: access)
            reuseUUID = found.uuid
        }
        if let dataPool = parameters.dataPool {
            do {
                _ = try await host.provisioner.poolID(dataPool, access: access)
            } catch CephAccessError.poolNamedNotFound {
                throw CSIError.invalidArgument("data pool \(dataPool) to provision volume from does not exist")
            }
        }
        if let source { try await source.limitChains(cloner) }
        let uuid = try await host.provisioner.reserve(
            parameters.name, at: location, journal: host.journal, imagePrefix: parameters.imagePrefix,
            values: parameters.journalValues, uuid: reuseUUID, access: access
        )
        let spec = location.image(parameters.imagePrefix + uuid)
        do {
            if let source {
                let volumeID = try Self.volumeID(clusterID: parameters.clusterID, poolID: poolID, uuid: uuid)
                try await source.build(spec, volumeID: volumeID, parameters: parameters, cloner: cloner)
            } else {
                try await host.provisioner.createImage(
                    spec, size: parameters.sizeBytes, features: parameters.features, dataPool: parameters.dataPool, layout: parameters.layout, access: access
                )
            }
            try await finish(spec, uuid: uuid, poolID: poolID, location: location, parameters: parameters, access: access)
        } catch {
            // Nothing half-made is left: what this call made, then its reservation, even when
            // the call was cancelled. An image that existed before the create is not this
            // call's and stays. An undo that fails, or a step past its time limit (`Undo.after`),
            // keeps the reservation, which leads the retry (same name, same UUID) to what is left.
            let imageExisted: Bool
            if case CephAccessError.imageExists? = error as? CephAccessError { imageExisted = true } else { imageExisted = false }
            let (host, cloner, name) = (host, cloner, parameters.name)
            await Undo.after(error, "the volume \(spec)", logger: logger) {
                if !imageExisted {
                    if let source { try await source.remove(spec, cloner: cloner) }
                    try await host.provisioner.removeImage(spec, access: access)
                }
                try await host.provisioner.undoReservation(uuid: uuid, requestName: name, at: location, journal: host.journal, access: access)
            }
            throw error
        }
        logger.info("created volume", metadata: ["name": "\(parameters.name)", "image": "\(spec)", "bytes": "\(parameters.sizeBytes)"])
        return try volume(uuid: uuid, poolID: poolID, size: parameters.sizeBytes, spec: spec, parameters: parameters)
    }

    /// Stores the image id, and for an encrypted volume what the node's LUKS path expects: the
    /// state `encryptionPrepared` and, with the metadata KMS, a new DEK sealed for the volume id.
    private func finish(_ spec: ImageSpec, uuid: String, poolID: Int64, location: PoolLocation, parameters: CreateVolumeParameters, access: ClusterAccess) async throws {
        let status = try await host.metadata.imageStatus(spec, access: access)
        try await host.provisioner.setEntryValues([JournalEntry.Key.imageID: status.imageID], uuid: uuid, at: location, journal: host.journal, access: access)
        guard parameters.encrypted else { return }
        let keys = [Self.encryptionStateKey, VolumeEncryptor.Key.dek]
        let metadata = try await host.metadata.imageMetadata(spec, keys: keys, access: access)
        if let passphrase = parameters.metadataKMSPassphrase, metadata[VolumeEncryptor.Key.dek] == nil {
            let volumeID = try Self.volumeID(clusterID: parameters.clusterID, poolID: poolID, uuid: uuid)
            let (_, sealed) = try await SealedDEK.sealNew(passphrase: passphrase, volumeID: volumeID)
            try await host.metadata.setImageMetadata(spec, key: VolumeEncryptor.Key.dek, value: sealed, access: access)
        }
        if (metadata[Self.encryptionStateKey] ?? "").isEmpty {
            try await host.metadata.setImageMetadata(spec, key: Self.encryptionStateKey, value: Self.encryptionPrepared, access: access)
        }
    }

    /// The volume an earlier call for the same name made, completed where it was cut short;
    /// nil when its image is gone. Another size is ALREADY_EXISTS.
    private func existingVolume(
        _ found: VolumeJournal.Reservation, parameters: CreateVolumeParameters, source: VolumeSource?, location: PoolLocation, poolID: Int64, access: ClusterAccess
    ) async throws -> Csi_V1_Volume? {
        let values = found.values ?? [:]
        if parameters.encrypted != (values[JournalEntry.Key.kmsID] != nil) ||
            (parameters.encrypted && values[JournalEntry.Key.kmsID] != (parameters.kmsID.isEmpty ? "default" : parameters.kmsID)) {
            throw CSIError(.alreadyExists, "volume \(parameters.name) already exists with other encryption settings")
        }
        let spec = location.image(found.imageName)
        var status: ImageStatus
        do {
            status = try await host.metadata.imageStatus(spec, access: access)
        } catch CephAccessError.imageNotFound {
            return nil
        }
        if let source {
            // A clone cut short before its transient snapshots were dropped, its key copied or
            // its size grown: each step is idempotent.
            try await source.dropTransientSnapshots(of: spec, cloner: cloner)
            let volumeID = try Self.volumeID(clusterID: parameters.clusterID, poolID: poolID, uuid: found.uuid)
            if source.located.encrypted {
                try await cloner.copyEncryption(
                    from: source.located.spec, sourceID: source.located.id, to: spec, targetID: volumeID,
                    passphrase: parameters.metadataKMSPassphrase, access: access
                )
            }
            if status.size < parameters.sizeBytes, status.size == source.size {
                try await host.provisioner.growImage(spec, to: parameters.sizeBytes, access: access)
                status.size = parameters.sizeBytes
            }
        }
        guard status.size >= parameters.sizeBytes else {
            throw CSIError(.alreadyExists, "volume \(parameters.name) already exists with a different size (\(status.size) bytes, \(parameters.sizeBytes) requested)")
        }
        try await finish(spec, uuid: found.uuid, poolID: poolID, location: location, parameters: parameters, access: access)
        return try volume(uuid: found.uuid, poolID: poolID, size: status.size, spec: spec, parameters: parameters)
    }

    /// The response: the encoded id, and the context ceph-csi returns (pool, journalPool,
    /// imageName, radosNamespace/dataPool when set, then every StorageClass parameter).
    private func volume(uuid: String, poolID: Int64, size: UInt64, spec: ImageSpec, parameters: CreateVolumeParameters) throws -> Csi_V1_Volume {
        let id = try Self.volumeID(clusterID: parameters.clusterID, poolID: poolID, uuid: uuid)
        var context = ["pool": spec.pool, "journalPool": spec.pool, "imageName": spec.image]
        if !spec.radosNamespace.isEmpty { context["radosNamespace"] = spec.radosNamespace }
        if let dataPool = parameters.dataPool { context["dataPool"] = dataPool }
        context.merge(parameters.contextParameters) { $1 }
        return .with {
            $0.volumeID = id
            // At most --max-volume-size for a new volume; an existing image read back can be
            // larger (made elsewhere), and is clamped rather than trapped on.
            $0.capacityBytes = Int64(clamping: size)
            $0.volumeContext = context
            if let source = parameters.contentSource { $0.contentSource = source }
        }
    }

    /// The encoded volume id; a clusterID too long for it is INVALID_ARGUMENT.
    static func volumeID(clusterID: String, poolID: Int64, uuid: String) throws -> String {
        do {
            return try CSIVolumeID(clusterID: clusterID, poolID: poolID, objectUUID: uuid).encoded()
        } catch {
            throw CSIError.invalidArgument("\(error)")
        }
    }

    /// Where a volume id's image is, or nil when the id names nothing that exists (an
    /// undecodable id, an unknown cluster, a deleted pool).
    func locate(_ volumeID: String, credentials: CephCredentials) async throws -> LocatedImage? {
        try await LocatedImage.locate(volumeID, credentials: credentials, journal: host.journal, host: host)
    }

    /// Deletes the image (refused while a client maps it), then the journal entry; each step
    /// is idempotent, so a delete cut short anywhere is finished by the next one.
    func delete(_ volume: LocatedImage) async throws {
        let spec = volume.spec
        do {
            let watchers = try await host.metadata.imageWatchers(spec, access: volume.access)
            guard watchers.isEmpty else {
                throw CSIError.failedPrecondition("rbd image \(spec) is still being used by \(watchers.joined(separator: ", ")); unstage it first")
            }
        } catch CephAccessError.imageNotFound {
            // Gone already (or still in the trash): removeImage purges a leftover trash entry.
        }
        try await host.provisioner.removeImage(spec, access: volume.access)
        // A clone of a volume has a temporary clone as its parent; it goes with it.
        try await host.provisioner.removeImage(VolumeSource.temporaryClone(of: spec), access: volume.access)
        try await host.provisioner.releaseReservation(
            uuid: volume.reservation.uuid, requestName: volume.requestName, at: volume.location, journal: host.journal, access: volume.access
        )
        logger.info("deleted volume", metadata: ["image": "\(spec)"])
    }

    /// Grows the image to `size` (never shrinks); the size it has afterwards.
    func expand(_ volume: LocatedImage, to size: UInt64) async throws -> UInt64 {
        let status = try await host.metadata.imageStatus(volume.spec, access: volume.access)
        guard status.size < size else { return status.size }
        try await host.provisioner.growImage(volume.spec, to: size, access: volume.access)
        logger.info("expanded volume", metadata: ["image": "\(volume.spec)", "from": "\(status.size)", "to": "\(size)"])
        return size
    }
}
