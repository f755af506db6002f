import CephAccess
import HostOperations
import Logging

/// LUKS2 on a mapped image, as ceph-csi does it: the encryption state lives in image
/// metadata, a new device is formatted (never one that holds anything else), and the device
/// is opened as `/dev/mapper/luks-rbd-<volID>`, on which the filesystem is made.
struct VolumeEncryptor {
    let host: NodeHost
    let logger: Logger

    /// Image-metadata keys, current and ceph-csi v3.0's (leading dot).
    enum Key {
        static let state = "rbd.csi.ceph.com/encrypted"
        static let oldState = ".rbd.csi.ceph.com/encrypted"
        static let dek = "rbd.csi.ceph.com/dek"
        static let oldDEK = ".rbd.csi.ceph.com/dek"
        static let all = [state, oldState, dek, oldDEK]
    }

    /// The state after luksFormat.
    static let encrypted = "encrypted"

    static func mapperName(volumeID: String) -> String { "luks-rbd-\(volumeID)" }

    /// Opens the LUKS layer over `device` (formatting it first when the volume is new and
    /// `mayFormat`: not read-only, and not a static volume with formatStaticVolume=false) and
    /// returns the mapper device.
    func open(device: String, spec: ImageSpec, access: ClusterAccess, kms: EncryptionKMS, volumeID: String, mayFormat: Bool) async throws -> String {
        let name = Self.mapperName(volumeID: volumeID)
        let mapped = "/dev/mapper/\(name)"
        if host.luks.isOpen(name: name) { return mapped }
        let metadata = try await host.metadata.imageMetadata(spec, keys: Key.all, access: access)
        let state = metadata[Key.state] ?? metadata[Key.oldState] ?? ""
        let content = try await host.probe.contentType(of: device)
        // Set when this call formats the device: the key it formatted with.
        var formattedWith: String?
        if state == Self.encrypted {
            guard content == "crypto_LUKS" else {
                throw CSIError.failedPrecondition("image \(spec) is marked encrypted but device \(device) holds \(content ?? "no LUKS header")")
            }
        } else {
            switch content {
            case nil:
                guard mayFormat else {
                    throw CSIError.failedPrecondition("encrypted volume \(volumeID) is blank and may not be formatted (read-only, or static with formatStaticVolume=false)")
                }
                let passphrase = try await passphrase(kms: kms, metadata: metadata, spec: spec, access: access, volumeID: volumeID, create: true)
                logger.info("encrypting", metadata: ["volume": "\(volumeID)", "device": "\(device)"])
                try await host.luks.format(device: device, passphrase: passphrase)
                try await host.metadata.setImageMetadata(spec, key: Key.state, value: Self.encrypted, access: access)
                formattedWith = passphrase
            case "crypto_LUKS":
                // Formatted by a stage that ended before it could record the state.
                try await host.metadata.setImageMetadata(spec, key: Key.state, value: Self.encrypted, access: access)
            case let other?:
                throw CSIError.failedPrecondition("refusing to encrypt device \(device) of volume \(volumeID): it holds \(other)")
            }
        }
        let passphrase: String
        if let formattedWith {
            passphrase = formattedWith
        } else {
            passphrase = try await self.passphrase(kms: kms, metadata: metadata, spec: spec, access: access, volumeID: volumeID, create: false)
        }
        try await host.luks.open(device: device, name: name, passphrase: passphrase)
        return mapped
    }

    /// The LUKS passphrase: the secret itself, or the metadata KMS's DEK (a new one is sealed
    /// and stored before anything is formatted with it, when `create`).
    private func passphrase(kms: EncryptionKMS, metadata: [String: String], spec: ImageSpec, access: ClusterAccess, volumeID: String, create: Bool) async throws -> String {
        switch kms {
        case let .secrets(passphrase):
            return passphrase
        case let .metadata(secret):
            // scrypt is memory-hard on purpose: it runs off the cooperative pool, so that
            // other RPCs (stats, publishes) are not held up behind it.
            if let sealed = metadata[Key.dek] ?? metadata[Key.oldDEK] {
                return try await BlockingCall.run("open the encryption key of volume \(volumeID)", limit: .seconds(120)) {
                    try SealedDEK.open(sealed, passphrase: secret, volumeID: volumeID)
                }
            }
            guard create else { throw CSIError.failedPrecondition("image \(spec) has no encryption key in its metadata (\(Key.dek))") }
            let (dek, sealed) = try await SealedDEK.sealNew(passphrase: secret, volumeID: volumeID)
            try await host.metadata.setImageMetadata(spec, key: Key.dek, value: sealed, access: access)
            return dek
        }
    }

    /// Closes the LUKS layer of `volumeID`, if open.
    func close(volumeID: String) async throws {
        try await host.luks.close(name: Self.mapperName(volumeID: volumeID))
    }
}
