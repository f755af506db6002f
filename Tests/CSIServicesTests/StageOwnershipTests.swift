import CSIProtocol
@testable import CephAccess
import Foundation
import GRPCCore
import HostOperations
import Logging
import Testing

@testable import CSIServices

/// Issue 16, item 3: a stage only ever undoes what it did itself, and never takes over or
/// unmaps another stage's mapping or stash.
@Suite("Stage ownership against a fake host")
struct StageOwnershipTests {
    let fake = FakeHost()
    let root: String

    init() throws {
        root = NSTemporaryDirectory() + "rbdcsi-own-\(UUID().uuidString.prefix(8))"
        for name in ["s1", "s2"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(name)", withIntermediateDirectories: true)
        }
    }

    var stager: VolumeStager { VolumeStager(host: fake.host, logger: Logger(label: "unit")) }

    func request(_ volumeID: String, at staging: String) -> Csi_V1_NodeStageVolumeRequest {
        .with {
            $0.volumeID = volumeID
            $0.stagingTargetPath = "\(root)/\(staging)"
            $0.volumeCapability = .with {
                $0.mount = .with { $0.fsType = "ext4" }
                $0.accessMode = .with { $0.mode = .singleNodeWriter }
            }
            $0.secrets = ["userID": "u", "userKey": "secret-key"]
            $0.volumeContext = ["staticVolume": "true", "pool": "rbd", "clusterID": "c1", "formatStaticVolume": "true"]
        }
    }

    @Test func volumeStagedElsewhereIsRefusedAndItsMappingKept() async throws {
        fake.deviceContent.withLock { $0 = "ext4" }
        try await stager.stage(StageParameters(request("vol-1", at: "s1")))
        fake.mapped.withLock { $0["rbd/vol-1"] = "/dev/rbd7" }
        let before = fake.recorded.count

        let error = await #expect(throws: CSIError.self) { try await stager.stage(StageParameters(request("vol-1", at: "s2"))) }
        #expect(error?.code == .failedPrecondition)
        #expect(error?.message.contains("already staged on this node at \(root)/s1/vol-1") == true)
        // Nothing was run: no unmap of the live device, no stash, no mount point in s2.
        #expect(Array(fake.recorded.dropFirst(before)) == [])
        #expect(!FileManager.default.fileExists(atPath: "\(root)/s2/image-meta.json"))
        #expect(!FileManager.default.fileExists(atPath: "\(root)/s2/vol-1"))
    }

    @Test func mappingWithoutAStashHereIsNotTakenOver() async throws {
        fake.mapped.withLock { $0["rbd/vol-1"] = "/dev/rbd7" }
        let error = await #expect(throws: CSIError.self) { try await stager.stage(StageParameters(request("vol-1", at: "s2"))) }
        #expect(error?.code == .failedPrecondition)
        #expect(error?.message.contains("already mapped on this node at /dev/rbd7") == true)
        #expect(!fake.recorded.contains { $0.hasPrefix("unmap") || $0.hasPrefix("mount") })
    }

    @Test func leftoverMappingOfThisStageIsReusedAndKeptWhenTheRetryFails() async throws {
        // An earlier stage wrote its stash and mapped, then died before mounting.
        var stash = ImageMetadataStash(spec: ImageSpec(pool: "rbd", radosNamespace: "", image: "vol-1"), mapper: .krbd, unmapOptions: "")
        stash.volumeID = "vol-1"
        try stash.write(to: "\(root)/s1")
        fake.mapped.withLock { $0["rbd/vol-1"] = "/dev/rbd7" }
        fake.deviceContent.withLock { $0 = "xfs" }
        let error = await #expect(throws: CSIError.self) { try await stager.stage(StageParameters(request("vol-1", at: "s1"))) }
        #expect(error?.code == .failedPrecondition)
        // The retry did not map, so it does not unmap; the stash stays for unstage.
        #expect(!fake.recorded.contains { $0.hasPrefix("map") || $0.hasPrefix("unmap") })
        #expect(FileManager.default.fileExists(atPath: "\(root)/s1/image-meta.json"))
        try await stager.unstage(volumeID: "vol-1", stagingPath: "\(root)/s1")
        #expect(fake.recorded.last == "unmap rbd/vol-1")
    }

    @Test func sharedStagingDirectoryIsRefusedForASecondVolume() async throws {
        try await stager.stage(StageParameters(request("vol-1", at: "s1")))
        let stash = try String(contentsOfFile: "\(root)/s1/image-meta.json", encoding: .utf8)
        let error = await #expect(throws: CSIError.self) { try await stager.stage(StageParameters(request("vol-2", at: "s1"))) }
        #expect(error?.code == .failedPrecondition)
        #expect(error?.message.contains("holds the stash of another volume (image rbd/vol-1)") == true)
        #expect(try String(contentsOfFile: "\(root)/s1/image-meta.json", encoding: .utf8) == stash)
        // Unstaging the other volume from there leaves vol-1's stash and mapping alone.
        try await stager.unstage(volumeID: "vol-2", stagingPath: "\(root)/s1")
        #expect(!fake.recorded.contains { $0.hasPrefix("unmap") })
        #expect(FileManager.default.fileExists(atPath: "\(root)/s1/image-meta.json"))
    }

    @Test func unstageNeverUnmapsAnImageStillMountedElsewhere() async throws {
        // s1 holds a stash naming the image (as ceph-csi writes it: no volume id), and the image
        // is mounted at s2 by another stage.
        let json = #"{"Version":3,"pool":"rbd","image":"vol-1","accessType":false,"encrypted":false}"#
        try json.write(toFile: "\(root)/s1/image-meta.json", atomically: true, encoding: .utf8)
        fake.mapped.withLock { $0["rbd/vol-1"] = "/dev/rbd7" }
        try FileManager.default.createDirectory(atPath: "\(root)/s2/vol-1", withIntermediateDirectories: true)
        try await fake.host.mounter.mount(source: "/dev/rbd7", target: "\(root)/s2/vol-1", fsType: "ext4", options: [])
        let error = await #expect(throws: CSIError.self) { try await stager.unstage(volumeID: "vol-1", stagingPath: "\(root)/s1") }
        #expect(error?.code == .failedPrecondition)
        #expect(!fake.recorded.contains { $0.hasPrefix("unmap") })
    }

    // Issue 12: the stash holds the mounter's own unmap options and the rbd-nbd device, as
    // ceph-csi writes it, and unstage uses them.
    @Test func stashHasTheMountersUnmapOptionsAndTheNBDDevice() async throws {
        var staged = request("vol-1", at: "s1")
        staged.volumeContext["mounter"] = "rbd-nbd"
        staged.volumeContext["unmapOptions"] = "krbd:force;nbd:timeout=5"
        try await stager.stage(StageParameters(staged))
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(root)/s1/image-meta.json"))) as? [String: Any]
        #expect(object?["unmapOptions"] as? String == "timeout=5")
        #expect(object?["accessType"] as? Bool == true)
        #expect(object?["device"] as? String == "/dev/nbd3")
        try FileManager.default.removeItem(atPath: "\(root)/s1/vol-1")  // the fake mount is gone; its point stays
        fake.mounts.withLock { $0.removeAll() }
        try await stager.unstage(volumeID: "vol-1", stagingPath: "\(root)/s1")
        #expect(fake.recorded.last == "unmap rbd/vol-1 options=timeout=5")
    }

    @Test func cephCSIStashOfAnNBDVolumeUnmapsWithItsOptions() async throws {
        let json = #"{"Version":3,"pool":"rbd","radosNamespace":"","image":"csi-vol-x","unmapOptions":"force","accessType":true,"encrypted":false,"device":"/dev/nbd0","logDir":"","logFileStrategy":""}"#
        try json.write(toFile: "\(root)/s1/image-meta.json", atomically: true, encoding: .utf8)
        try await stager.unstage(volumeID: "vol-x", stagingPath: "\(root)/s1")
        #expect(fake.recorded == ["unmap rbd/csi-vol-x options=force"])
    }

    // Item 10: control characters in ids are refused before anything is logged or run.
    @Test(arguments: ["vol\nforged", "vol\u{1B}[2J", "vol\u{0}x", "vol\u{7F}"])
    func volumeIDsWithControlCharactersAreInvalid(id: String) throws {
        let error = #expect(throws: CSIError.self) { try StageParameters(request(id, at: "s1")) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("\n") == false)
    }

    @Test func mkfsOptionsOutsideTheAllowListAreInvalid() throws {
        var staged = request("vol-1", at: "s1")
        staged.volumeContext["mkfsOptions"] = "-d /etc/ssh"
        let error = #expect(throws: CSIError.self) { try StageParameters(staged) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("-d") == true)
    }
}

/// Issue 16, item 9: bare monitor addresses get the protocol their port speaks.
@Suite("Monitor addresses")
struct MonitorAddressTests {
    @Test func bareAddressesAreParsedAndPrefixedOnesLeftAlone() {
        #expect(MonitorAddresses.hostAndPort("127.0.0.1:6789")! == ("127.0.0.1", "6789"))
        #expect(MonitorAddresses.hostAndPort("[::1]:3300")! == ("::1", "3300"))
        #expect(MonitorAddresses.hostAndPort("mon-a.example:40000")! == ("mon-a.example", "40000"))
        #expect(MonitorAddresses.hostAndPort("v1:127.0.0.1:6789") == nil)
        #expect(MonitorAddresses.hostAndPort("[v2:127.0.0.1:3300,v1:127.0.0.1:6789]") == nil)
        #expect(MonitorAddresses.hostAndPort("mon-a.example") == nil)
        #expect(MonitorAddresses.hostAndPort("::1") == nil)
    }

    @Test func bannersTellTheProtocol() {
        #expect(MonitorAddresses.protocolOf(banner: Array("ceph v027".utf8)) == "v1")
        #expect(MonitorAddresses.protocolOf(banner: Array("ceph v2\n".utf8) + [0, 16]) == "v2")
        #expect(MonitorAddresses.protocolOf(banner: Array("SSH-2.0-".utf8)) == nil)
    }

    @Test func unansweredAddressIsLeftAsGiven() async {
        // Port 9 on loopback: nothing listens, so nothing is guessed.
        #expect(await MonitorAddresses.withProtocols(["127.0.0.1:9"]) == ["127.0.0.1:9"])
    }
}
