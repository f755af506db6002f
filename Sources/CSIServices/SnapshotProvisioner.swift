import CSIProtocol
import CephAccess
import Logging
import SwiftProtobuf

/// CreateSnapshot and DeleteSnapshot on ceph-csi v3.12's layout (contract §3, §10, §11): the
/// snapshot journal, a `csi-snap-<uuid>` image cloned from the source volume and carrying one
/// RBD snapshot of the same name, from which restores are cloned.
struct SnapshotProvisioner {
    let host: ControllerHost
    let cloner: ImageCloner
    let logger: Logger

    /// What CreateSnapshot is asked to do.
    struct Request {
        var name: String
        /// The source volume, located and with its entry (the caller checked: else NOT_FOUND).
        var source: LocatedImage
        var prefix: String
        /// The request's secret `encryptionPassphrase`: the metadata KMS's passphrase, to copy
        /// an encrypted source's key (unless the source's KMS names a Secret that holds it).
        var passphrase: String?

        /// ceph-csi's parameters: `snapshotNamePrefix` and `pool` must not be empty when
        /// given; the snapshot always lands in the source's pool and namespace.
        static func prefix(_ parameters: [String: String]) throws -> String {
            if let pool = parameters["pool"], pool.isEmpty { throw CSIError.invalidArgument("empty pool name in which rbd image will be created") }
            if let pool = parameters["pool"] { try CephStringRule.name.require(pool, as: "pool") }
            guard let prefix = parameters["snapshotNamePrefix"] else { return JournalEntry.defaultSnapshotPrefix }
            guard !prefix.isEmpty else { throw CSIError.invalidArgument("empty snapshot name prefix to provision snapshot from") }
            try CephStringRule.name.require(prefix, as: "snapshotNamePrefix")
            return prefix
        }
    }

    func create(_ request: Request) async throws -> Csi_V1_Snapshot {
        var request = request
        if request.source.encrypted, let kmsID = request.source.reservation.value(JournalEntry.Key.kmsID) {
            // ceph-csi opens the source's key with the source's KMS, for the source's owner.
            let tenant = request.source.reservation.value(JournalEntry.Key.owner) ?? ""
            request.passphrase = try await EncryptionKMS.secretPassphrase(kmsID: kmsID, config: host.kmsConfig, tenant: tenant) ?? request.passphrase
        }
        let source = request.source
        let access = source.access
        let location = source.location
        let journal = host.journal.snapshots
        let sourceDetails: ImageDetails
        do {
            sourceDetails = try await host.provisioner.imageDetails(source.spec, access: access)
        } catch CephAccessError.imageNotFound {
            throw CSIError.notFound("source volume \(source.id) (image \(source.spec)) does not exist")
        }
        guard sourceDetails.has(feature: "layering") else {
            throw CSIError.invalidArgument("volume(\(source.id)) has not snapshot feature(layering)")
        }
        var reuseUUID: String?
        if let found = try await host.provisioner.reservation(of: request.name, at: location, journal: journal, access: access) {
            let stored = found.requestName
            if let stored, stored != request.name {
                throw CSIError.internalError("internal state inconsistent, omap names mismatch, request name (\(request.name)) snapshot UUID (\(found.uuid)) snapshot omap name (\(stored))")
            }
            if stored != nil, let storedSource = found.value(JournalEntry.Key.source), storedSource != source.spec.image {
                throw CSIError(.alreadyExists, "snapshot \(request.name) already exists for another source volume (image \(storedSource), not \(source.spec.image))")
            }
            if stored != nil, found.value(JournalEntry.Key.source) != nil,
               let existing = try await existingSnapshot(found, request: request, access: access) {
                return existing
            }
            // Cut short (no entry, no source, or its image is gone): the transient snapshot on
            // the source and the reservation are undone, and made again with the same UUID.
            logger.info("repairing an incomplete snapshot reservation", metadata: ["name": "\(request.name)", "uuid": "\(found.uuid)"])
            try await host.provisioner.removeSnapshot(of: source.spec, named: found.imageName, access: access)
            try await host.provisioner.removeImage(location.image(found.imageName), access: access)
            try await host.provisioner.undoReservation(uuid: found.uuid, requestName: request.name, at: location, journal: journal, access: access)
            reuseUUID = found.uuid
        }
        try await cloner.limitSnapshots(on: source.spec, access: access)
        if source.encrypted { try await cloner.checkKeyCopyable(from: source.spec, passphrase: request.passphrase, access: access) }
        var values = [JournalEntry.Key.source: source.spec.image]
        for key in [JournalEntry.Key.kmsID, JournalEntry.Key.encryptionType, JournalEntry.Key.owner] {
            if let value = source.reservation.value(key) { values[key] = value }
        }
        let uuid = try await host.provisioner.reserve(
            request.name, at: location, journal: journal, imagePrefix: request.prefix, values: values, uuid: reuseUUID, access: access
        )
        let spec = location.image(request.prefix + uuid)
        let snapshotID = try VolumeProvisioner.volumeID(clusterID: source.clusterID, poolID: source.poolID, uuid: uuid)
        do {
            try await cloner.cloneThroughTransientSnapshot(source.spec, to: spec, features: ImageCloner.helperFeatures, dataPool: nil, access: access)
            let details = try await finish(spec, uuid: uuid, snapshotID: snapshotID, request: request, access: access)
            logger.info("created snapshot", metadata: ["name": "\(request.name)", "image": "\(spec)", "source": "\(source.spec)"])
            return Self.snapshot(id: snapshotID, sourceID: source.id, details: details)
        } catch let error as CSIError where error.code == .aborted {
            // A flatten still running: the snapshot is whole and kept; the retry finds it.
            throw error
        } catch {
            // As for volumes: undone even when the call was cancelled; the reservation goes
            // last, and only when everything it leads to is gone.
            let (host, name) = (host, request.name)
            await Undo.after(error, "the snapshot \(spec)", logger: logger) {
                try await host.provisioner.removeSnapshot(of: source.spec, named: spec.image, access: access)
                try await host.provisioner.removeSnapshot(of: spec, named: spec.image, access: access)
                try await host.provisioner.removeImage(spec, access: access)
                try await host.provisioner.undoReservation(uuid: uuid, requestName: name, at: location, journal: journal, access: access)
            }
            throw error
        }
    }

    /// The snapshot an earlier call for the same name made, completed where it was cut short;
    /// nil when its image is gone.
    private func existingSnapshot(_ found: VolumeJournal.Reservation, request: Request, access: ClusterAccess) async throws -> Csi_V1_Snapshot? {
        let spec = request.source.location.image(found.imageName)
        do {
            _ = try await host.provisioner.imageDetails(spec, access: access)
        } catch CephAccessError.imageNotFound {
            return nil
        }
        // The transient snapshot on the source may have outlived a crash.
        try await host.provisioner.removeSnapshot(of: request.source.spec, named: spec.image, access: access)
        let snapshotID = try VolumeProvisioner.volumeID(clusterID: request.source.clusterID, poolID: request.source.poolID, uuid: found.uuid)
        let details = try await finish(spec, uuid: found.uuid, snapshotID: snapshotID, request: request, access: access)
        return Self.snapshot(id: snapshotID, sourceID: request.source.id, details: details)
    }

    /// The steps after the clone, each idempotent: the source's key sealed for the snapshot
    /// id, the snapshot restores clone from, the image id in the entry, ceph-csi's depth check.
    private func finish(_ spec: ImageSpec, uuid: String, snapshotID: String, request: Request, access: ClusterAccess) async throws -> ImageDetails {
        if request.source.encrypted {
            try await cloner.copyEncryption(from: request.source.spec, sourceID: request.source.id, to: spec, targetID: snapshotID, passphrase: request.passphrase, access: access)
        }
        try await host.provisioner.createSnapshot(of: spec, named: spec.image, access: access)
        let details = try await host.provisioner.imageDetails(spec, access: access)
        try await host.provisioner.setEntryValues(
            [JournalEntry.Key.imageID: details.imageID], uuid: uuid, at: request.source.location, journal: host.journal.snapshots, access: access
        )
        try await cloner.limitDepth(of: spec, hard: host.cloneLimits.hardDepth, soft: host.cloneLimits.softDepth, access: access)
        return details
    }

    /// The response: size and creation time of the snapshot image (the source's size when
    /// taken), ready at once (the data is the clone's). Unlike ceph-csi, the source id is
    /// always filled in, as the CSI spec asks.
    static func snapshot(id: String, sourceID: String, details: ImageDetails) -> Csi_V1_Snapshot {
        .with {
            $0.snapshotID = id
            $0.sourceVolumeID = sourceID
            $0.sizeBytes = Int64(clamping: details.size)
            $0.creationTime = Google_Protobuf_Timestamp(seconds: details.createdSeconds, nanos: details.createdNanoseconds)
            $0.readyToUse = true
        }
    }

    /// Deletes the snapshot: its RBD snapshot, its image (kept in the trash while restored
    /// volumes still clone from it, and removed with the last of them), then the entry. Each
    /// step is idempotent.
    func delete(_ snapshot: LocatedImage) async throws {
        let journal = host.journal.snapshots
        let spec = snapshot.spec
        if let source = snapshot.reservation.value(JournalEntry.Key.source) {
            // A transient snapshot left on the source by a create cut short.
            try await host.provisioner.removeSnapshot(of: snapshot.location.image(source), named: spec.image, access: snapshot.access)
        }
        try await host.provisioner.removeSnapshot(of: spec, named: spec.image, access: snapshot.access)
        try await host.provisioner.removeImage(spec, access: snapshot.access)
        try await host.provisioner.releaseReservation(
            uuid: snapshot.reservation.uuid, requestName: snapshot.requestName, at: snapshot.location, journal: journal, access: snapshot.access
        )
        logger.info("deleted snapshot", metadata: ["image": "\(spec)"])
    }
}
