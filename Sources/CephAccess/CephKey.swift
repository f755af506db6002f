import FoundationEssentials

/// The form of a cephx secret key as `ceph auth` prints it: base64 of Ceph's encoded
/// CryptoKey, a 2-byte type (1, AES), 8 bytes of creation time, a 2-byte length (16) and the
/// 16 secret bytes. librados given anything else fails to authenticate with a generic error,
/// which reads like an unreachable cluster; checked first, a typo is named as one.
public enum CephKey {
    /// Throws `malformedKey` unless `key` has that form.
    public static func check(_ key: String, user: String) throws(CephAccessError) {
        try CephStringRule.text.check(key, as: "userKey of user \(user)")
        guard let bytes = Data(base64Encoded: key) else {
            throw .malformedKey(user: user, reason: "it is not base64")
        }
        guard bytes.count == 28 else {
            throw .malformedKey(user: user, reason: "it decodes to \(bytes.count) bytes, not the 28 of a cephx key (`ceph auth get-key client.\(user)` prints it)")
        }
        let type = UInt16(bytes[bytes.startIndex]) | UInt16(bytes[bytes.startIndex + 1]) << 8
        let length = UInt16(bytes[bytes.startIndex + 10]) | UInt16(bytes[bytes.startIndex + 11]) << 8
        guard type == 1, length == 16 else {
            throw .malformedKey(user: user, reason: "its header says type \(type) and \(length) secret bytes, not an AES key of 16")
        }
    }
}
