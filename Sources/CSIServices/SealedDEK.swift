import CephAccess
import Crypto
import FoundationEssentials
import _CryptoExtras

/// The metadata KMS's data-encryption key as stored in image metadata: AES-256-GCM under a key
/// derived with scrypt (N 32768, r 8, p 1) from the secret passphrase, salted with the volume
/// id; JSON `{"dek": base64, "nonce": base64}` (ceph-csi's secrets-metadata layout).
struct SealedDEK: Codable, Sendable {
    var dek: Data
    var nonce: Data

    /// A new random DEK: 20 random bytes, base64url, as ceph-csi generates passphrases.
    static func generate() -> String {
        let bytes = (0..<20).map { _ in UInt8.random(in: .min ... .max) }
        return String(Data(bytes).base64EncodedString().map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }

    private static func key(passphrase: String, volumeID: String) throws -> SymmetricKey {
        try KDF.Scrypt.deriveKey(from: Array(passphrase.utf8), salt: Array(volumeID.utf8), outputByteCount: 32, rounds: 32768, blockSize: 8, parallelism: 1)
    }

    /// `dek` sealed for `volumeID`, as the JSON text stored in metadata: byte for byte what
    /// ceph-csi's Go `json.Marshal` writes (`dek` then `nonce`, standard base64, `/` not
    /// escaped). `nonce` is random unless given (tests pin it).
    static func seal(_ dek: String, passphrase: String, volumeID: String, nonce: Data? = nil) throws -> String {
        let key = try key(passphrase: passphrase, volumeID: volumeID)
        let box = try AES.GCM.seal(Array(dek.utf8), using: key, nonce: nonce.map { try AES.GCM.Nonce(data: $0) } ?? AES.GCM.Nonce())
        let sealed = SealedDEK(dek: box.ciphertext + box.tag, nonce: Data(box.nonce))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(sealed), as: UTF8.self)
    }

    /// A new DEK and its sealed form for `volumeID`. scrypt is memory-hard on purpose: it runs
    /// off the cooperative pool, so that other RPCs are not held up behind it.
    static func sealNew(passphrase: String, volumeID: String) async throws -> (dek: String, sealed: String) {
        let dek = generate()
        let sealed = try await BlockingCall.run("seal the encryption key of volume \(volumeID)", limit: .seconds(120)) {
            try seal(dek, passphrase: passphrase, volumeID: volumeID)
        }
        return (dek, sealed)
    }

    /// `text` (sealed for volume `source`) opened and sealed again for volume `target`: the
    /// key of a snapshot or clone. Off the cooperative pool, like `sealNew`.
    static func reseal(_ text: String, passphrase: String, from source: String, to target: String) async throws -> String {
        try await BlockingCall.run("copy the encryption key of \(source) to \(target)", limit: .seconds(120)) {
            try seal(open(text, passphrase: passphrase, volumeID: source), passphrase: passphrase, volumeID: target)
        }
    }

    /// The DEK in `text`; PERMISSION_DENIED when the passphrase does not open it.
    static func open(_ text: String, passphrase: String, volumeID: String) throws -> String {
        let sealed: SealedDEK
        do {
            sealed = try JSONDecoder().decode(SealedDEK.self, from: Data(text.utf8))
        } catch {
            throw CSIError.internalError("the sealed encryption key of volume \(volumeID) in image metadata is malformed: \(error)")
        }
        guard sealed.dek.count > 16 else { throw CSIError.internalError("the sealed encryption key of volume \(volumeID) is truncated") }
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: sealed.nonce), ciphertext: sealed.dek.dropLast(16), tag: sealed.dek.suffix(16)
            )
            let plain = try AES.GCM.open(box, using: key(passphrase: passphrase, volumeID: volumeID))
            return String(decoding: plain, as: UTF8.self)
        } catch {
            throw CSIError(.permissionDenied, "the encryptionPassphrase secret does not open the encryption key of volume \(volumeID)")
        }
    }
}
