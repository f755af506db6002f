import Foundation

/// ceph-csi's encryption KMS config file: `{"<kmsID>": {"encryptionKMSType": "metadata", …}}`
/// (older configs name the type `KMS_PROVIDER`), default
/// `/etc/ceph-csi-encryption-kms-config/config.json`, read on every use (a ConfigMap).
public struct KMSConfig: Sendable {
    public static let defaultPath = "/etc/ceph-csi-encryption-kms-config/config.json"
    public let path: String

    public init(path: String = KMSConfig.defaultPath) {
        self.path = path
    }

    /// The `encryptionKMSType` of `kmsID`; INVALID_ARGUMENT naming the file when the file or
    /// the id is missing or malformed.
    public func kmsType(of kmsID: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CSIError.invalidArgument("encryptionKMSID \(kmsID) given, but the KMS config \(path) cannot be read")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CSIError.invalidArgument("KMS config \(path) is not a JSON object of KMS ids")
        }
        guard let entry = object[kmsID] as? [String: Any] else {
            throw CSIError.invalidArgument("encryptionKMSID \(kmsID) not found in \(path)")
        }
        guard let type = (entry["encryptionKMSType"] ?? entry["KMS_PROVIDER"]) as? String, !type.isEmpty else {
            throw CSIError.invalidArgument("KMS \(kmsID) in \(path) has no encryptionKMSType")
        }
        return type
    }
}
