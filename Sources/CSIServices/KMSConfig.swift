import Foundation

/// ceph-csi's encryption KMS config file: `{"<kmsID>": {"encryptionKMSType": "metadata", …}}`
/// (older configs name the type `KMS_PROVIDER`), default
/// `/etc/ceph-csi-encryption-kms-config/config.json`, read on every use (a ConfigMap).
public struct KMSConfig: Sendable {
    public static let defaultPath = "/etc/ceph-csi-encryption-kms-config/config.json"
    public let path: String
    /// Where the file is absent: the sections of ceph-csi's KMS ConfigMap (kmsID → its JSON),
    /// read from the Kubernetes API at start, and what they came from.
    public let fallback: (source: String, sections: [String: String])?
    /// Reads the Kubernetes Secrets a KMS names (`secretName`); nil outside a pod.
    public let secrets: (any KMSSecretReading)?

    public init(
        path: String = KMSConfig.defaultPath, fallback: (source: String, sections: [String: String])? = nil,
        secrets: (any KMSSecretReading)? = nil
    ) {
        self.path = path
        self.fallback = fallback
        self.secrets = secrets
    }

    /// What the config says of one KMS.
    public struct Entry: Sendable {
        /// Its `encryptionKMSType` (older configs: `KMS_PROVIDER`).
        public var type: String
        /// For a metadata KMS, the Kubernetes Secret it takes its passphrase from (ceph-csi's
        /// `secretName`, `secretNamespace`); nil when the passphrase is the stage secret. The
        /// namespace is nil when the volume's owner (its PVC's namespace) decides.
        public var passphraseSecret: (name: String, namespace: String?)?
    }

    /// The entry of `kmsID`, from one read of the file (or the ConfigMap); INVALID_ARGUMENT
    /// naming it when it or the id is missing or malformed.
    public func kms(_ kmsID: String) throws -> Entry {
        let (object, source) = try self.object(of: kmsID)
        guard let type = (object["encryptionKMSType"] ?? object["KMS_PROVIDER"]) as? String, !type.isEmpty else {
            throw CSIError.invalidArgument("KMS \(kmsID) in \(source) has no encryptionKMSType")
        }
        guard type == "metadata" else { return Entry(type: type) }
        func string(_ key: String) throws -> String? {
            guard let value = object[key] else { return nil }
            guard let text = value as? String else { throw CSIError.invalidArgument("KMS \(kmsID) in \(source): \(key) is not a string") }
            return text.isEmpty ? nil : text
        }
        guard let name = try string("secretName") else { return Entry(type: type) }
        return Entry(type: type, passphraseSecret: (name, try string("secretNamespace")))
    }

    /// The JSON object of `kmsID` and where it was read.
    private func object(of kmsID: String) throws -> (object: [String: Any], source: String) {
        if !FileManager.default.fileExists(atPath: path), let fallback {
            // ceph-csi reads its KMS ConfigMap when the file is not mounted.
            guard let text = fallback.sections[kmsID] else {
                throw CSIError.invalidArgument("encryptionKMSID \(kmsID) not found in \(fallback.source)")
            }
            guard let section = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                throw CSIError.invalidArgument("KMS \(kmsID) in \(fallback.source) is not a JSON object")
            }
            return (section, fallback.source)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CSIError.invalidArgument("encryptionKMSID \(kmsID) given, but the KMS config \(path) cannot be read")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CSIError.invalidArgument("KMS config \(path) is not a JSON object of KMS ids")
        }
        guard let found = object[kmsID] as? [String: Any] else {
            throw CSIError.invalidArgument("encryptionKMSID \(kmsID) not found in \(path)")
        }
        return (found, path)
    }
}
