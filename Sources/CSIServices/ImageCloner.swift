import CephAccess
import Logging

/// The steps snapshots, restores and clones share (contract §4, §7): a clone through a
/// transient snapshot, ceph-csi's clone-depth rule, the snapshot-count limit, and the copy of
/// an encrypted image's key to its copy.
struct ImageCloner {
    let host: ControllerHost
    let logger: Logger

    /// The features of ceph-csi's helper images (temporary clones and snapshot images).
    static let helperFeatures = ["layering", "deep-flatten"]

    /// Clones `parent` into `child` through a snapshot of `parent` named after the child, as
    /// ceph-csi does, and drops that snapshot: with clone format 2 it lives on in the trash
    /// namespace while the child exists, and its name tells which child it serves. Each step
    /// is idempotent, so a retry after a crash picks up where the last call stopped.
    func cloneThroughTransientSnapshot(_ parent: ImageSpec, to child: ImageSpec, features: [String]?, dataPool: String?, access: ClusterAccess) async throws {
        try await host.provisioner.createSnapshot(of: parent, named: child.image, access: access)
        do {
            try await host.provisioner.cloneImage(parent, snapshot: child.image, to: child, features: features, dataPool: dataPool, access: access)
        } catch {
            // A clone still running past its time limit may yet need the snapshot: then it
            // stays, the caller keeps its reservation, and the retry removes the snapshot.
            let host = host
            await Undo.after(error, "the snapshot \(parent)@\(child.image)", logger: logger) {
                try await host.provisioner.removeSnapshot(of: parent, named: child.image, access: access)
            }
            throw error
        }
        try await host.provisioner.removeSnapshot(of: parent, named: child.image, access: access)
    }

    /// ceph-csi's flatten rule for `spec`: a chain shorter than both limits is left; one at the
    /// soft limit is flattened in the background; one at the hard limit must be flattened
    /// before the request goes on: ABORTED (retried) while the manager flattens it, or
    /// flattened now where the manager cannot.
    func limitDepth(of spec: ImageSpec, hard: Int, soft: Int, access: ClusterAccess) async throws {
        let depth = try await host.provisioner.cloneDepth(of: spec, access: access)
        guard depth >= hard || depth >= soft else { return }
        let mustFinish = depth >= hard
        logger.info("flattening a deep clone", metadata: ["image": "\(spec)", "depth": "\(depth)", "hard": "\(hard)", "soft": "\(soft)"])
        switch try await host.provisioner.flatten(spec, wait: false, access: access) {
        case .noParent?, .flattened?:
            return
        case .queued?:
            if mustFinish {
                throw CSIError(.aborted, "flatten in progress: flatten is in progress for image \(spec.image) (clone depth \(depth) reached the hard limit \(hard)); retry")
            }
        case nil:
            if mustFinish { _ = try await host.provisioner.flatten(spec, wait: true, access: access) }
        }
    }

    /// Refuses a new snapshot or clone of an image that has more snapshots than
    /// `--maxsnapshotsonimage` (librbd's hard limit is 510).
    func limitSnapshots(on spec: ImageSpec, access: ClusterAccess) async throws {
        let count = try await host.provisioner.snapshotCount(of: spec, access: access)
        if count > host.cloneLimits.maxSnapshots {
            throw CSIError(.resourceExhausted, "rbd image \(spec) has \(count) snapshots (limit \(host.cloneLimits.maxSnapshots), --maxsnapshotsonimage)")
        }
    }

    /// Refuses early (before anything is made) a copy of an image whose sealed key cannot be
    /// copied without the passphrase.
    func checkKeyCopyable(from source: ImageSpec, passphrase: String?, access: ClusterAccess) async throws {
        guard passphrase?.isEmpty ?? true else { return }
        let metadata = try await host.metadata.imageMetadata(source, keys: [VolumeEncryptor.Key.dek], access: access)
        if let sealed = metadata[VolumeEncryptor.Key.dek], !sealed.isEmpty { throw Self.passphraseNeeded(source) }
    }

    private static func passphraseNeeded(_ source: ImageSpec) -> CSIError {
        CSIError.invalidArgument("image \(source) holds an encryption key sealed by the metadata KMS: the secret \(EncryptionKMS.passphraseSecret) is needed to copy it")
    }

    /// Copies the encryption state and key of `source` (id `sourceID`) to its copy `target`
    /// (id `targetID`): the metadata KMS's key, sealed for the source id, is opened and sealed
    /// again for the target id, as ceph-csi's copyEncryptionConfig does.
    func copyEncryption(from source: ImageSpec, sourceID: String, to target: ImageSpec, targetID: String, passphrase: String?, access: ClusterAccess) async throws {
        let keys = [VolumeProvisioner.encryptionStateKey, VolumeEncryptor.Key.dek]
        let metadata = try await host.metadata.imageMetadata(source, keys: keys, access: access)
        if let sealed = metadata[VolumeEncryptor.Key.dek], !sealed.isEmpty {
            guard let passphrase, !passphrase.isEmpty else { throw Self.passphraseNeeded(source) }
            let resealed = try await SealedDEK.reseal(sealed, passphrase: passphrase, from: sourceID, to: targetID)
            try await host.metadata.setImageMetadata(target, key: VolumeEncryptor.Key.dek, value: resealed, access: access)
        }
        if let state = metadata[VolumeProvisioner.encryptionStateKey], !state.isEmpty {
            try await host.metadata.setImageMetadata(target, key: VolumeProvisioner.encryptionStateKey, value: state, access: access)
        }
    }
}
