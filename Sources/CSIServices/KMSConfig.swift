import FoundationEssentials

/// ceph-csi's encryption KMS config file: `{"<kmsID>": {"encryptionKMSType": "metadata", …}}`
/// (older configs name the type `KMS_PROVIDER`), default
/// `/etc/ceph-csi-encryption-kms-config/config.json`, read on every use (a ConfigMap).
public struct KMSConfig: Sendable {
    public static let defaultPath = "/etc/ceph-csi-encryption-kms-config/config.json"
    public let path: String
    /// Where the file is absent: ceph-csi's KMS ConfigMap (kmsID → its JSON), read on every use.
    public let fallback: (any KMSConfigMapReading)?
    /// Reads the Kubernetes Secrets a KMS names (`secretName`); nil outside a pod.
    public let secrets: (any KMSSecretReading)?

    public init(
        path: String = KMSConfig.defaultPath, fallback: (any KMSConfigMapReading)? = nil,
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
    public func kms(_ kmsID: String) async throws -> Entry {
        let (object, source) = try await self.object(of: kmsID)
        guard case .string(let type)? = object["encryptionKMSType"] ?? object["KMS_PROVIDER"], !type.isEmpty else {
            throw CSIError.invalidArgument("KMS \(kmsID) in \(source) has no encryptionKMSType")
        }
        guard type == "metadata" else { return Entry(type: type) }
        func string(_ key: String) throws -> String? {
            switch object[key] {
            case nil: return nil
            case .string(let text)?: return text.isEmpty ? nil : text
            case .other?: throw CSIError.invalidArgument("KMS \(kmsID) in \(source): \(key) is not a string")
            }
        }
        guard let name = try string("secretName") else { return Entry(type: type) }
        return Entry(type: type, passphraseSecret: (name, try string("secretNamespace")))
    }

    /// The fields of `kmsID`'s JSON object and where it was read.
    private func object(of kmsID: String) async throws -> (object: [String: Field], source: String) {
        let decoder = JSONDecoder()
        if !FileManager.default.fileExists(atPath: path), let fallback {
            // ceph-csi reads its KMS ConfigMap when the file is not mounted.
            guard let sections = try await fallback.sections() else {
                throw CSIError.invalidArgument("encryptionKMSID \(kmsID) given, but neither the KMS config \(path) nor \(fallback.source) exists")
            }
            guard let text = sections[kmsID] else {
                throw CSIError.invalidArgument("encryptionKMSID \(kmsID) not found in \(fallback.source)")
            }
            guard case .object(let section)? = try? decoder.decode(Section.self, from: Data(text.utf8)) else {
                throw CSIError.invalidArgument("KMS \(kmsID) in \(fallback.source) is not a JSON object")
            }
            return (section, fallback.source)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CSIError.invalidArgument("encryptionKMSID \(kmsID) given, but the KMS config \(path) cannot be read")
        }
        guard let sections = try? decoder.decode([String: Section].self, from: data) else {
            throw CSIError.invalidArgument("KMS config \(path) is not a JSON object of KMS ids")
        }
        guard case .object(let found)? = sections[kmsID] else {
            throw CSIError.invalidArgument("encryptionKMSID \(kmsID) not found in \(path)")
        }
        return (found, path)
    }

    /// One KMS's section of the file: its fields when it is an object. Other KMS ids may hold
    /// anything without making this one unreadable.
    private enum Section: Decodable {
        case object([String: Field])
        case other

        init(from decoder: any Decoder) throws {
            self = (try? decoder.singleValueContainer().decode([String: Field].self)).map(Section.object) ?? .other
        }
    }

    /// A field of a KMS section: only string values are read (a KMS of another type may carry
    /// numbers, objects or lists, which the plugin never looks at).
    private enum Field: Decodable {
        case string(String)
        case other

        init(from decoder: any Decoder) throws {
            self = (try? decoder.singleValueContainer().decode(String.self)).map(Field.string) ?? .other
        }
    }
}
