import CSIProtocol
import Foundation
import GRPCCore
import Synchronization
import Testing

@testable import CSIServices

/// ceph-csi's metadata KMS with `secretName` / `secretNamespace`: the passphrase is read from a
/// Kubernetes Secret (key `encryptionPassphrase`), in the volume owner's namespace unless the
/// KMS names one; the request's secret is then not used.
@Suite("Metadata KMS passphrase from a Kubernetes Secret")
struct KMSPassphraseSecretTests {
    /// Secrets by "namespace/name"; records what was asked.
    final class Secrets: KMSSecretReading {
        let stored: [String: [String: String]]
        let asked = Mutex<[String]>([])
        init(_ stored: [String: [String: String]]) { self.stored = stored }

        func secretData(name: String, namespace: String) async throws -> [String: String] {
            asked.withLock { $0.append("\(namespace)/\(name)") }
            guard let data = stored["\(namespace)/\(name)"] else { throw CSIError.failedPrecondition("Secret \(namespace)/\(name) not found") }
            return data
        }
    }

    static func config(_ entries: String, secrets: Secrets?) throws -> KMSConfig {
        let path = "/tmp/rbdcsi-kms-\(UUID().uuidString.prefix(8)).json"
        try entries.write(toFile: path, atomically: true, encoding: .utf8)
        return KMSConfig(path: path, secrets: secrets)
    }

    static let entries = #"""
    {"fixed": {"encryptionKMSType": "metadata", "secretName": "kms-pass", "secretNamespace": "ceph-csi"},
     "tenant": {"encryptionKMSType": "metadata", "secretName": "tenant-pass"},
     "plain": {"encryptionKMSType": "metadata"},
     "bad": {"encryptionKMSType": "metadata", "secretName": 7}}
    """#

    static func code(_ body: () async throws -> Void) async -> RPCError.Code? {
        do {
            try await body()
            return nil
        } catch let error as CSIError {
            return error.code
        } catch {
            return .unknown
        }
    }

    @Test func theSecretNamedByTheKMSGivesThePassphrase() async throws {
        let secrets = Secrets(["ceph-csi/kms-pass": ["encryptionPassphrase": "from-secret"], "team-a/tenant-pass": ["encryptionPassphrase": "team-a's"]])
        let config = try Self.config(Self.entries, secrets: secrets)
        let request = ["encryptionPassphrase": "from-request"]
        // secretNamespace given: the owner does not matter.
        guard case .metadata("from-secret") = try await EncryptionKMS.resolve(kmsID: "fixed", secrets: request, config: config, tenant: "team-a") else {
            Issue.record("fixed namespace")
            return
        }
        // No secretNamespace: the owner's (the PVC's namespace).
        guard case .metadata("team-a's") = try await EncryptionKMS.resolve(kmsID: "tenant", secrets: [:], config: config, tenant: "team-a") else {
            Issue.record("owner namespace")
            return
        }
        // No secretName: the request's secret, and the API is not asked.
        guard case .metadata("from-request") = try await EncryptionKMS.resolve(kmsID: "plain", secrets: request, config: config, tenant: "team-a") else {
            Issue.record("plain metadata")
            return
        }
        #expect(secrets.asked.withLock { $0 } == ["ceph-csi/kms-pass", "team-a/tenant-pass"])
        #expect(try await EncryptionKMS.secretPassphrase(kmsID: "default", config: config, tenant: "team-a") == nil)
    }

    @Test func whatCannotBeFoundIsAClearError() async throws {
        let secrets = Secrets(["team-a/tenant-pass": ["other": "x"]])
        let config = try Self.config(Self.entries, secrets: secrets)
        // No owner and no secretNamespace: nowhere to look.
        #expect(await Self.code { _ = try await EncryptionKMS.resolve(kmsID: "tenant", secrets: [:], config: config, tenant: "") } == .failedPrecondition)
        // The Secret lacks the key.
        #expect(await Self.code { _ = try await EncryptionKMS.resolve(kmsID: "tenant", secrets: [:], config: config, tenant: "team-a") } == .failedPrecondition)
        // The Secret is missing: the reader's error passes through.
        #expect(await Self.code { _ = try await EncryptionKMS.resolve(kmsID: "fixed", secrets: [:], config: config, tenant: "") } == .failedPrecondition)
        // A secretName that is not a string.
        #expect(await Self.code { _ = try await EncryptionKMS.resolve(kmsID: "bad", secrets: [:], config: config, tenant: "team-a") } == .invalidArgument)
        // Outside a pod there is no API to ask.
        let offline = try Self.config(Self.entries, secrets: nil)
        do {
            _ = try await EncryptionKMS.resolve(kmsID: "fixed", secrets: ["encryptionPassphrase": "p"], config: offline, tenant: "")
            Issue.record("resolved without an API")
        } catch let error as CSIError {
            #expect(error.code == .failedPrecondition)
            #expect(error.message.contains("Kubernetes API is not available"), "\(error.message)")
        }
    }
}
