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

    public init(path: String = KMSConfig.defaultPath, fallback: (source: String, sections: [String: String])? = nil) {
        self.path = path
        self.fallback = fallback
    }

    /// The `encryptionKMSType` of `kmsID`; INVALID_ARGUMENT naming the file (or ConfigMap) when
    /// it or the id is missing or malformed.
    public func kmsType(of kmsID: String) throws -> String {
        let entry: [String: Any]
        if !FileManager.default.fileExists(atPath: path), let fallback {
            // ceph-csi reads its KMS ConfigMap when the file is not mounted.
            guard let text = fallback.sections[kmsID] else {
                throw CSIError.invalidArgument("encryptionKMSID \(kmsID) not found in \(fallback.source)")
            }
            guard let section = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                throw CSIError.invalidArgument("KMS \(kmsID) in \(fallback.source) is not a JSON object")
            }
            entry = section
        } else {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CSIError.invalidArgument("encryptionKMSID \(kmsID) given, but the KMS config \(path) cannot be read")
            }
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw CSIError.invalidArgument("KMS config \(path) is not a JSON object of KMS ids")
            }
            guard let found = object[kmsID] as? [String: Any] else {
                throw CSIError.invalidArgument("encryptionKMSID \(kmsID) not found in \(path)")
            }
            entry = found
        }
        guard let type = (entry["encryptionKMSType"] ?? entry["KMS_PROVIDER"]) as? String, !type.isEmpty else {
            throw CSIError.invalidArgument("KMS \(kmsID) in \(path) has no encryptionKMSType")
        }
        return type
    }
}
