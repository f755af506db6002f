import CSIProtocol
import CephAccess
import Foundation
import GRPCCore
import HostOperations
import Logging
import Testing

@testable import CSIServices

@Suite("Encrypted volumes (LUKS2, secrets and metadata KMS) against a fake host")
struct VolumeEncryptionTests {
    let fake = FakeHost()
    let staging: String

    init() throws {
        staging = NSTemporaryDirectory() + "rbdcsi-unit-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        try #"{"meta":{"encryptionKMSType":"metadata"},"vault-1":{"encryptionKMSType":"vault"}}"#
            .write(toFile: fake.kmsConfigPath, atomically: true, encoding: .utf8)
    }

    var stager: VolumeStager { VolumeStager(host: fake.host, logger: Logger(label: "unit")) }

    func request(kmsID: String? = nil, passphrase: String? = "pass-1") -> Csi_V1_NodeStageVolumeRequest {
        .with {
            $0.volumeID = "vol-1"
            $0.stagingTargetPath = staging
            $0.volumeCapability = .with {
                $0.mount = .with { $0.fsType = "ext4" }
                $0.accessMode = .with { $0.mode = .singleNodeWriter }
            }
            $0.secrets = ["userID": "u", "userKey": "k"]
            if let passphrase { $0.secrets["encryptionPassphrase"] = passphrase }
            $0.volumeContext = ["staticVolume": "true", "pool": "rbd", "clusterID": "c1", "formatStaticVolume": "true", "encrypted": "true"]
            if let kmsID { $0.volumeContext["encryptionKMSID"] = kmsID }
        }
    }

    @Test func newVolumeIsFormattedRecordedOpenedAndClosedBeforeUnmap() async throws {
        try await stager.stage(StageParameters(request()))
        let mapper = "/dev/mapper/luks-rbd-vol-1"
        #expect(fake.recorded == [
            "status rbd/vol-1 watchers=0", "map rbd/vol-1 ro=false key=true",
            "luks format /dev/rbd7", "image-meta set rbd.csi.ceph.com/encrypted", "luks open /dev/rbd7 luks-rbd-vol-1",
            "mkfs ext4 \(mapper)", "mount \(mapper) \(staging)/vol-1 ext4 _netdev",
        ])
        #expect(fake.imageMetadata.withLock { $0["rbd.csi.ceph.com/encrypted"] } == "encrypted")
        #expect(try ImageMetadataStash.read(from: staging)?.encrypted == true)
        try await stager.unstage(volumeID: "vol-1", stagingPath: staging)
        #expect(Array(fake.recorded.suffix(3)) == ["umount \(staging)/vol-1", "luks close luks-rbd-vol-1", "unmap rbd/vol-1"])
    }

    @Test func metadataKMSSealsARandomKeyBeforeFormattingAndOpensItAgain() async throws {
        try await stager.stage(StageParameters(request(kmsID: "meta")))
        let sealed = try #require(fake.imageMetadata.withLock { $0["rbd.csi.ceph.com/dek"] })
        #expect(sealed.contains("\"nonce\""))
        #expect(!sealed.contains("pass-1"))
        let calls = fake.recorded
        #expect(calls.firstIndex(of: "image-meta set rbd.csi.ceph.com/dek")! < calls.firstIndex(of: "luks format /dev/rbd7")!)
        // The LUKS passphrase is the DEK, not the secret.
        let dek = try SealedDEK.open(sealed, passphrase: "pass-1", volumeID: "vol-1")
        #expect(fake.contents.withLock { $0["passphrase of /dev/rbd7"] } == dek)
        try await stager.unstage(volumeID: "vol-1", stagingPath: staging)

        // A fresh stage opens the existing volume with the same key; nothing is formatted.
        try await stager.stage(StageParameters(request(kmsID: "meta")))
        #expect(fake.recorded.filter { $0.hasPrefix("luks format") || $0.hasPrefix("mkfs") }.count == 2)
        try await stager.unstage(volumeID: "vol-1", stagingPath: staging)

        // Another secret cannot open the key: PERMISSION_DENIED, and the map is undone.
        let error = await #expect(throws: CSIError.self) { try await stager.stage(StageParameters(request(kmsID: "meta", passphrase: "wrong"))) }
        #expect(error?.code == .permissionDenied)
        #expect(fake.recorded.last == "unmap rbd/vol-1")
        #expect(!FileManager.default.fileExists(atPath: staging + "/image-meta.json"))
    }

    @Test func sealedKeyIsBoundToItsVolume() async throws {
        func scrypt<R: Sendable>(_ body: @escaping @Sendable () throws -> R) async throws -> R { try await SealedDEKCompatibilityTests.scrypt(body) }
        let sealed = try await scrypt { try SealedDEK.seal("dek-value", passphrase: "p", volumeID: "vol-a") }
        #expect(try await scrypt { try SealedDEK.open(sealed, passphrase: "p", volumeID: "vol-a") } == "dek-value")
        await #expect(throws: CSIError.self) { try await scrypt { try SealedDEK.open(sealed, passphrase: "p", volumeID: "vol-b") } }
        #expect(SealedDEK.generate() != SealedDEK.generate())
    }

    @Test(arguments: [
        ("vault-1", "pass-1", "unsupported encryption KMS type vault"),
        ("nope", "pass-1", "encryptionKMSID nope not found"),
        (nil, nil, "encryptionPassphrase missing"),
    ] as [(String?, String?, String)])
    func badKMSRequestsAreInvalidArgumentBeforeAnythingHappens(kmsID: String?, passphrase: String?, message: String) async throws {
        let error = await #expect(throws: CSIError.self) { try await stager.stage(StageParameters(request(kmsID: kmsID, passphrase: passphrase))) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
        #expect(!fake.recorded.contains { $0.hasPrefix("map") })
    }

    @Test func dataIsNeverEncryptedOver() async throws {
        fake.contents.withLock { $0["/dev/rbd7"] = "ext4" }
        let error = await #expect(throws: CSIError.self) { try await stager.stage(StageParameters(request())) }
        #expect(error?.code == .failedPrecondition)
        #expect(error?.message.contains("refusing to encrypt") == true)
        #expect(!fake.recorded.contains { $0.hasPrefix("luks format") })
        #expect(fake.recorded.last == "unmap rbd/vol-1")
    }

    @Test func blankStaticVolumeIsNotEncryptedWithFormatStaticVolumeFalse() async throws {
        var r = request()
        r.volumeContext["formatStaticVolume"] = "false"
        let error = await #expect(throws: CSIError.self) { try await stager.stage(StageParameters(r)) }
        #expect(error?.code == .failedPrecondition)
        #expect(!fake.recorded.contains { $0.hasPrefix("luks format") || $0.hasPrefix("image-meta set") })
        #expect(fake.recorded.last == "unmap rbd/vol-1")
    }

    /// A provisioned volume: encryption comes from its journal entry, as ceph-csi's node reads
    /// it, even when the volume context does not say so.
    @Test func journalEntryMakesTheVolumeEncrypted() async throws {
        let uuid = "40b130e1-a630-11eb-8bea-246e968ec20c"
        fake.journal.withLock { $0[uuid] = ["csi.volname": "pvc-1", "csi.volume.encryptKMS": "default", "csi.volume.encryptionType": "block"] }
        var r = request()
        r.volumeID = "0001-0002-c1-0000000000000007-\(uuid)"
        r.volumeContext = ["clusterID": "c1"]
        try await stager.stage(StageParameters(r))
        #expect(fake.recorded.contains { $0.hasPrefix("luks format") })
        #expect(try ImageMetadataStash.read(from: staging)?.encrypted == true)
    }

    /// A metadata KMS naming a Secret: the node reads the passphrase from it in the namespace
    /// the journal records as the volume's owner; the stage request carries none.
    @Test func journalOwnerChoosesTheNamespaceOfTheKMSSecret() async throws {
        try #"{"k8s-meta":{"encryptionKMSType":"metadata","secretName":"rbd-kms"}}"#.write(toFile: fake.kmsConfigPath, atomically: true, encoding: .utf8)
        let secrets = KMSPassphraseSecretTests.Secrets(["team-a/rbd-kms": ["encryptionPassphrase": "team-a passphrase"]])
        var host = fake.host
        host.kmsConfig = KMSConfig(path: fake.kmsConfigPath, secrets: secrets)
        let uuid = "40b130e1-a630-11eb-8bea-246e968ec20c"
        fake.journal.withLock {
            $0[uuid] = ["csi.volname": "pvc-1", "csi.volume.encryptKMS": "k8s-meta", "csi.volume.encryptionType": "block", "csi.volume.owner": "team-a"]
        }
        var r = request(passphrase: nil)
        r.volumeID = "0001-0002-c1-0000000000000007-\(uuid)"
        r.volumeContext = ["clusterID": "c1"]
        try await VolumeStager(host: host, logger: Logger(label: "unit")).stage(StageParameters(r))
        #expect(secrets.asked.withLock { $0 } == ["team-a/rbd-kms"])
        let sealed = try #require(fake.imageMetadata.withLock { $0["rbd.csi.ceph.com/dek"] })
        let volumeID = r.volumeID
        let dek = try await SealedDEKCompatibilityTests.scrypt { try SealedDEK.open(sealed, passphrase: "team-a passphrase", volumeID: volumeID) }
        #expect(fake.contents.withLock { $0["passphrase of /dev/rbd7"] } == dek)
    }

    /// ceph-csi's fscrypt mode (`encryptionType: file`), from the context or the journal, is
    /// refused before anything is mapped.
    @Test func fileEncryptionIsRefusedBeforeAnythingIsTouched() async throws {
        var context = request()
        context.volumeContext["encryptionType"] = "file"
        let refused = #expect(throws: CSIError.self) { try StageParameters(context) }
        #expect(refused?.code == .invalidArgument)
        let uuid = "50b130e1-a630-11eb-8bea-246e968ec20c"
        fake.journal.withLock { $0[uuid] = ["csi.volname": "pvc-2", "csi.volume.encryptKMS": "meta", "csi.volume.encryptionType": "file"] }
        var r = request()
        r.volumeID = "0001-0002-c1-0000000000000007-\(uuid)"
        r.volumeContext = ["clusterID": "c1"]
        let error = await #expect(throws: CSIError.self) { try await stager.stage(StageParameters(r)) }
        #expect(error?.code == .invalidArgument)
        #expect(fake.recorded.allSatisfy { $0.hasPrefix("journal") })
        #expect(try ImageMetadataStash.read(from: staging) == nil)
    }

    /// NodeExpandVolume of an encrypted volume: the LUKS mapping grows (cryptsetup resize)
    /// before the filesystem does. (The fake host has no real device to measure afterwards.)
    @Test func expandResizesTheLUKSMappingBeforeTheFilesystem() async throws {
        try await stager.stage(StageParameters(request()))
        let inspector = VolumeInspector(host: fake.host, logger: Logger(label: "unit"))
        _ = try? await inspector.expand(volumeID: "vol-1", path: staging + "/vol-1")
        let steps = fake.recorded.filter { $0.hasPrefix("luks resize") || $0.hasPrefix("grow ext4") }
        #expect(steps == ["luks resize luks-rbd-vol-1", "grow ext4 \(staging)/vol-1"])
    }

    @Test func aLUKSHeaderWithoutRecordedStateIsAdoptedNotReformatted() async throws {
        try await fake.host.luks.format(device: "/dev/rbd7", passphrase: "pass-1")
        try await stager.stage(StageParameters(request()))
        #expect(fake.recorded.filter { $0.hasPrefix("luks format") }.count == 1)
        #expect(fake.imageMetadata.withLock { $0["rbd.csi.ceph.com/encrypted"] } == "encrypted")
    }
}

/// The metadata KMS's sealed key, against a fixture made the way ceph-csi v3.12's
/// `secretsMetadataKMS.EncryptDEK` makes it: scrypt (N 32768, r 8, p 1, 32 bytes) of the
/// passphrase salted with the volume id, AES-256-GCM, Go's `json.Marshal` of `{dek, nonce}`
/// (produced with Python's hashlib.scrypt and the cryptography package's AESGCM).
@Suite("Sealed DEK: byte for byte ceph-csi's")
struct SealedDEKCompatibilityTests {
    static let passphrase = "ceph-csi metadata passphrase"
    static let volumeID = "0001-0009-rook-ceph-0000000000000002-b0285c97-a0ce-11eb-8c66-0242ac110002"
    static let dek = "Mwx2ahZLk2hFEGpX3xTq-H1spHv_"
    static let sealedByCephCSI = #"{"dek":"XCCSYIGKeE2DO8Gh2OCx/8Dk4QcZ1YwEj/RE04n5EGvIKlfKJEN87vrpN+c=","nonce":"qPUTLMZNW0hOArvZ"}"#

    /// Runs the key derivation (about a second of CPU in a debug build) off the cooperative
    /// pool, as the plugin does: on the pool it would stall the tests running beside it.
    static func scrypt<R: Sendable>(_ body: @escaping @Sendable () throws -> R) async throws -> R {
        try await BlockingExecutor.shared.run("scrypt", limit: .seconds(120), body)
    }

    @Test func aKeySealedByCephCSIOpens() async throws {
        #expect(try await Self.scrypt { try SealedDEK.open(Self.sealedByCephCSI, passphrase: Self.passphrase, volumeID: Self.volumeID) } == Self.dek)
        await #expect(throws: CSIError.self) {
            try await Self.scrypt { try SealedDEK.open(Self.sealedByCephCSI, passphrase: Self.passphrase, volumeID: Self.volumeID + "x") }
        }
    }

    @Test func ourSealIsTheTextCephCSIWrites() async throws {
        let nonce = try #require(Data(base64Encoded: "qPUTLMZNW0hOArvZ"))
        #expect(try await Self.scrypt { try SealedDEK.seal(Self.dek, passphrase: Self.passphrase, volumeID: Self.volumeID, nonce: nonce) } == Self.sealedByCephCSI)
    }
}
