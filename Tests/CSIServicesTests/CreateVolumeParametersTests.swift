import Foundation
import CSIProtocol
import Synchronization
import Testing

@testable import CSIServices

@Suite("CreateVolume parameters: sizes, features, StorageClass rules")
struct CreateVolumeParametersTests {
    static let MiB: Int64 = 1 << 20
    static let GiB: Int64 = 1 << 30

    static let sizes: [(Int64, Int64, Int64)] = [
        (0, 0, GiB), (1, 0, MiB), (100 * MiB, 0, 100 * MiB), (100 * MiB + 1, 0, 101 * MiB),
        (GiB, 0, GiB), (GiB + 1, 0, 2 * GiB), (10 * GiB, 10 * GiB, 10 * GiB), (0, 500 * MiB, 500 * MiB),
    ]

    @Test(arguments: sizes)
    func sizesAreRoundedAsCephCSIRoundsThem(required: Int64, limit: Int64, expected: Int64) throws {
        let range = Csi_V1_CapacityRange.with { $0.requiredBytes = required; $0.limitBytes = limit }
        #expect(try CreateVolumeParameters.roundedSize(required == 0 && limit == 0 ? nil : range) == UInt64(expected))
    }

    @Test func roundedSizeAboveTheLimitIsOutOfRange() {
        let error = #expect(throws: CSIError.self) {
            try CreateVolumeParameters.roundedSize(.with { $0.requiredBytes = Self.GiB + 1; $0.limitBytes = Self.GiB + 1 })
        }
        #expect(error?.code == .outOfRange)
    }

    @Test func featuresNeedTheirPrerequisites() throws {
        #expect(try CreateVolumeParameters.features("layering,exclusive-lock,object-map,fast-diff", mounter: "rbd") == ["layering", "exclusive-lock", "object-map", "fast-diff"])
        #expect(throws: CSIError.self) { try CreateVolumeParameters.features("object-map", mounter: "rbd") }
        #expect(throws: CSIError.self) { try CreateVolumeParameters.features("layering,striping", mounter: "rbd") }
        #expect(throws: CSIError.self) { try CreateVolumeParameters.features("exclusive-lock,journaling", mounter: "rbd") }
        #expect(try CreateVolumeParameters.features("exclusive-lock,journaling", mounter: "rbd-nbd") == ["exclusive-lock", "journaling"])
    }

    @Test func contextKeepsStorageClassParametersButKubernetesOnes() async throws {
        let request = Csi_V1_CreateVolumeRequest.with {
            $0.name = "pvc-1"
            $0.volumeCapabilities = [.with { $0.mount = .init(); $0.accessMode.mode = .singleNodeWriter }]
            $0.parameters = ["clusterID": "c1", "pool": "rbd", "mapOptions": "krbd:lock_on_read", "csi.storage.k8s.io/pvc/namespace": "ns", "encrypted": "true"]
            $0.secrets = ["userID": "u", "userKey": "k"]
        }
        let parameters = try await CreateVolumeParameters.read(request, kmsConfig: KMSConfig(path: "/nonexistent/kms.json"))
        #expect(parameters.contextParameters == ["clusterID": "c1", "pool": "rbd", "mapOptions": "krbd:lock_on_read", "encrypted": "true"])
        #expect(parameters.journalValues == ["csi.volume.owner": "ns", "csi.volume.encryptKMS": "default", "csi.volume.encryptionType": "block"])
        #expect(parameters.sizeBytes == 1 << 30)
    }

    @Test func kmsConfigAsCephCSIReadsIt() async throws {
        let path = "/tmp/rbdcsi-kms-\(Int.random(in: 0..<1_000_000)).json"
        // Other KMS types carry numbers, booleans, lists and objects (ceph-csi's Vault example
        // has `tenants`), and a stray non-object entry must not make the file unreadable.
        try #"""
            {"meta": {"encryptionKMSType": "metadata"}, "old": {"KMS_PROVIDER": "metadata"},
             "vault": {"encryptionKMSType": "vault", "vaultAddress": "http://vault:8200", "vaultCAVerify": false,
                       "vaultTimeout": 10, "tenants": {"ns": {"vaultAddress": "x"}}, "roles": ["a", "b"]},
             "stray": 3, "numberType": {"encryptionKMSType": 7}}
            """#.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = KMSConfig(path: path)
        #expect(try await config.kms("meta").type == "metadata")
        #expect(try await config.kms("old").type == "metadata")
        #expect(try await config.kms("vault").type == "vault")
        for malformed in ["stray", "numberType"] {
            do {
                _ = try await config.kms(malformed)
                Issue.record("malformed entry \(malformed) was read")
            } catch let error as CSIError {
                #expect(error.code == .invalidArgument, "\(malformed): \(error)")
            }
        }
        let secrets = ["encryptionPassphrase": "p"]
        guard case .metadata = try await EncryptionKMS.resolve(kmsID: "old", secrets: secrets, config: config, tenant: "") else { Issue.record("old-style entry not metadata"); return }
        // The id `default` is the secrets default and needs no config entry.
        guard case .secrets = try await EncryptionKMS.resolve(kmsID: "default", secrets: secrets, config: config, tenant: "") else { Issue.record("default not secrets"); return }
        await #expect(throws: CSIError.self) { try await EncryptionKMS.resolve(kmsID: "vault", secrets: secrets, config: config, tenant: "") }
        await #expect(throws: CSIError.self) { try await EncryptionKMS.resolve(kmsID: "missing", secrets: secrets, config: config, tenant: "") }
    }

    /// ceph-csi reads its KMS ConfigMap (kmsID → JSON section) where the file is not mounted,
    /// on every use; a mounted file wins.
    @Test func kmsConfigMapSectionsStandInForAMissingFile() async throws {
        let configMap = ConfigMapStub(sections: ["meta": #"{"encryptionKMSType": "metadata", "secretName": "s"}"#, "bad": "not json"])
        let config = KMSConfig(path: "/nonexistent/rbdcsi-kms.json", fallback: configMap)
        #expect(try await config.kms("meta").type == "metadata")
        do {
            _ = try await config.kms("missing").type
            Issue.record("a missing kmsID was found")
        } catch let error as CSIError {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("ConfigMap ceph-csi/csi-kms-connection-details"))
        }
        await #expect(throws: CSIError.self) { try await config.kms("bad").type }

        // An operator's edit applies to the next use, without a restart.
        configMap.data.withLock { $0?["meta"] = #"{"encryptionKMSType": "vault"}"# }
        #expect(try await config.kms("meta").type == "vault")

        // No file and no ConfigMap: the message names both.
        configMap.data.withLock { $0 = nil }
        let error = await #expect(throws: CSIError.self) { try await config.kms("meta") }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("/nonexistent/rbdcsi-kms.json") == true && error?.message.contains("ConfigMap ceph-csi/") == true)

        let path = "/tmp/rbdcsi-kms-\(Int.random(in: 0..<1_000_000)).json"
        try #"{"meta": {"encryptionKMSType": "vault"}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        configMap.data.withLock { $0 = ["meta": #"{"encryptionKMSType": "metadata"}"#] }
        #expect(try await KMSConfig(path: path, fallback: configMap).kms("meta").type == "vault")
    }
}

/// A KMS ConfigMap whose data the test changes between reads.
private final class ConfigMapStub: KMSConfigMapReading {
    let data: Mutex<[String: String]?>
    let source = "ConfigMap ceph-csi/csi-kms-connection-details"

    init(sections: [String: String]?) {
        data = Mutex(sections)
    }

    func sections() async throws -> [String: String]? { data.withLock { $0 } }
}
