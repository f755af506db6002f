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

    /// The KMS of a request: `kmsID` from the volume context (empty for the default), its type
    /// from `config`. Unsupported types and missing passphrases are INVALID_ARGUMENT.
    /// `passphraseRequired` false (the controller): the default KMS needs no passphrase, as it
    /// stores nothing; the metadata KMS still does, to seal the key it stores.
    ///
    /// A metadata KMS with `secretName` takes its passphrase from that Kubernetes Secret (key
    /// `encryptionPassphrase`) in `secretNamespace`, or else in `tenant` (the namespace of the
    /// volume's PVC, `csi.volume.owner` in the journal), as ceph-csi does; the request's secret
    /// is then not used.
    static func resolve(
        kmsID: String, secrets: [String: String], config: KMSConfig, tenant: String, passphraseRequired: Bool = true
    ) async throws -> EncryptionKMS {
        // ceph-csi: no KMS id, or the id `default`, is the secrets default, with no config entry.
        let kms = kmsID.isEmpty || kmsID == "default" ? nil : try await config.kms(kmsID)
        let type = kms?.type ?? "default"
        guard type == "default" || supportedTypes.contains(type) else {
            throw CSIError.invalidArgument("unsupported encryption KMS type \(type) (encryptionKMSID \(kmsID)); this plugin supports the secrets default and \(supportedTypes.joined(separator: ", "))")
        }
        if type == "default" && !passphraseRequired { return .secrets(passphrase: secrets[passphraseSecret] ?? "") }
        if let secret = kms?.passphraseSecret {
            return .metadata(passphrase: try await passphrase(from: secret, kmsID: kmsID, config: config, tenant: tenant))
        }
        guard let passphrase = secrets[passphraseSecret], !passphrase.isEmpty else {
            throw CSIError.invalidArgument("encrypted volume: stage secret \(passphraseSecret) missing (KMS \(type))")
        }
        return type == "default" ? .secrets(passphrase: passphrase) : .metadata(passphrase: passphrase)
    }

    /// The passphrase in the Kubernetes Secret of a metadata KMS that names one (`secretName`);
    /// nil for any other KMS (its passphrase, if any, is the request's secret).
    static func secretPassphrase(kmsID: String, config: KMSConfig, tenant: String) async throws -> String? {
        guard !kmsID.isEmpty, kmsID != "default", let secret = try await config.kms(kmsID).passphraseSecret else { return nil }
        return try await passphrase(from: secret, kmsID: kmsID, config: config, tenant: tenant)
    }

    private static func passphrase(from secret: (name: String, namespace: String?), kmsID: String, config: KMSConfig, tenant: String) async throws -> String {
        guard let namespace = secret.namespace ?? (tenant.isEmpty ? nil : tenant) else {
            throw CSIError.failedPrecondition("KMS \(kmsID) takes its passphrase from Secret \(secret.name) in the volume's namespace, but the volume records no owner namespace (csi.volume.owner); set secretNamespace in the KMS config")
        }
        guard let reader = config.secrets else {
            throw CSIError.failedPrecondition("KMS \(kmsID) takes its passphrase from Secret \(namespace)/\(secret.name), but the Kubernetes API is not available to this plugin (not running in a pod)")
        }
        let data = try await reader.secretData(name: secret.name, namespace: namespace)
        guard let passphrase = data[passphraseSecret], !passphrase.isEmpty else {
            throw CSIError.failedPrecondition("Secret \(namespace)/\(secret.name) of KMS \(kmsID) has no \(passphraseSecret)")
        }
        return passphrase
    }
}
