/// Where the LUKS passphrase of an encrypted volume comes from: ceph-csi's two KMS kinds that
/// need nothing but Ceph and the stage secrets.
enum EncryptionKMS: Sendable {
    /// The default (no `encryptionKMSID`): the stage secret `encryptionPassphrase` is the LUKS
    /// passphrase.
    case secrets(passphrase: String)
    /// KMS type `metadata`: a random data-encryption key (DEK) is the LUKS passphrase; it is
    /// kept in the image's metadata, sealed with the stage secret `encryptionPassphrase`.
    case metadata(passphrase: String)

    static let passphraseSecret = "encryptionPassphrase"

    /// ceph-csi's `encryptionType`: `block` (LUKS, this plugin's) passes; `file` (fscrypt) or
    /// anything else is INVALID_ARGUMENT, wherever it is read (StorageClass, volume context,
    /// journal), before anything is touched.
    static func requireBlockEncryption(_ encryptionType: String, of what: String) throws {
        guard encryptionType == "block" else {
            throw CSIError.invalidArgument("\(what) uses encryptionType \(encryptionType); this plugin encrypts block devices (LUKS) only, not files (fscrypt)")
        }
    }
    static let supportedTypes = ["metadata"]

    /// The KMS of a stage request: `kmsID` from the volume context (empty for the default),
    /// its type from `config`. Unsupported types and missing passphrases are INVALID_ARGUMENT.
    /// `passphraseRequired` false (the controller): the default KMS needs no passphrase, as it
    /// stores nothing; the metadata KMS still does, to seal the key it stores.
    static func resolve(kmsID: String, secrets: [String: String], config: KMSConfig, passphraseRequired: Bool = true) throws -> EncryptionKMS {
        // ceph-csi: no KMS id, or the id `default`, is the secrets default, with no config entry.
        let type = kmsID.isEmpty || kmsID == "default" ? "default" : try config.kmsType(of: kmsID)
        guard type == "default" || supportedTypes.contains(type) else {
            throw CSIError.invalidArgument("unsupported encryption KMS type \(type) (encryptionKMSID \(kmsID)); this plugin supports the secrets default and \(supportedTypes.joined(separator: ", "))")
        }
        if type == "default" && !passphraseRequired { return .secrets(passphrase: secrets[passphraseSecret] ?? "") }
        guard let passphrase = secrets[passphraseSecret], !passphrase.isEmpty else {
            throw CSIError.invalidArgument("encrypted volume: stage secret \(passphraseSecret) missing (KMS \(type))")
        }
        return type == "default" ? .secrets(passphrase: passphrase) : .metadata(passphrase: passphrase)
    }
}
