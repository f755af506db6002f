import CSIProtocol
import CephAccess
import Foundation
import GRPCCore
import HostOperations
import Logging
import Testing

@testable import CSIServices

@Suite("Stage and unstage logic against a fake host")
struct VolumeStagerTests {
    let fake = FakeHost()
    let staging: String

    init() throws {
        staging = NSTemporaryDirectory() + "rbdcsi-unit-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
    }

    var stager: VolumeStager { VolumeStager(host: fake.host, logger: Logger(label: "unit")) }

    func request(fsType: String = "ext4", mode: Csi_V1_VolumeCapability.AccessMode.Mode = .singleNodeWriter, flags: [String] = []) -> Csi_V1_NodeStageVolumeRequest {
        .with {
            $0.volumeID = "vol-1"
            $0.stagingTargetPath = staging
            $0.volumeCapability = .with {
                $0.mount = .with { $0.fsType = fsType; $0.mountFlags = flags }
                $0.accessMode = .with { $0.mode = mode }
            }
            $0.secrets = ["userID": "u", "userKey": "secret-key"]
            $0.volumeContext = ["staticVolume": "true", "pool": "rbd", "clusterID": "c1", "formatStaticVolume": "true"]
        }
    }

    @Test func blankDeviceIsFormattedAndMountedWithCephCSIOptions() async throws {
        try await stager.stage(StageParameters(request(fsType: "xfs", flags: ["noatime", "_netdev", "noatime"])))
        #expect(fake.recorded == [
            "map rbd/vol-1 ro=false key=true",
            "mkfs xfs /dev/rbd7",
            "mount /dev/rbd7 \(staging)/vol-1 xfs _netdev,noatime,nouuid",
        ])
        #expect(FileManager.default.fileExists(atPath: staging + "/image-meta.json"))
    }

    @Test func existingFilesystemIsCheckedNotFormatted() async throws {
        fake.deviceContent.withLock { $0 = "ext4" }
        try await stager.stage(StageParameters(request()))
        #expect(fake.recorded.contains("fsck /dev/rbd7"))
        #expect(!fake.recorded.contains { $0.hasPrefix("mkfs") })
    }

    @Test func readerOnlyMapsReadOnlyAndMountsRO() async throws {
        fake.deviceContent.withLock { $0 = "ext4" }
        try await stager.stage(StageParameters(request(mode: .multiNodeReaderOnly)))
        #expect(fake.recorded == ["map rbd/vol-1 ro=true key=true", "mount /dev/rbd7 \(staging)/vol-1 ext4 _netdev,ro"])
    }

    @Test func timedOutMapIsUndoneCompletely() async throws {
        fake.mapFailure.withLock { $0 = .timedOut(command: "rbd map rbd/vol-1", after: .seconds(120), standardError: "") }
        let error = await #expect(throws: CommandError.self) { try await stager.stage(StageParameters(request())) }
        #expect(RPCError(mapping: error!).code == .internalError)
        #expect(RPCError(mapping: error!).message.contains("timed out after 120s"))
        #expect(fake.recorded == ["map rbd/vol-1 ro=false key=true", "unmap rbd/vol-1"])
        #expect(!FileManager.default.fileExists(atPath: staging + "/image-meta.json"))
        #expect(!FileManager.default.fileExists(atPath: staging + "/vol-1"))
    }

    @Test func foreignFilesystemIsUndoneAndRefused() async throws {
        fake.deviceContent.withLock { $0 = "xfs" }
        let error = await #expect(throws: CSIError.self) { try await stager.stage(StageParameters(request(fsType: "ext4"))) }
        #expect(error?.code == .failedPrecondition)
        #expect(fake.recorded == ["map rbd/vol-1 ro=false key=true", "unmap rbd/vol-1"])
        #expect(!FileManager.default.fileExists(atPath: staging + "/image-meta.json"))
    }

    @Test func unstageReadsACephCSIVersion2Stash() async throws {
        let json = #"{"Version":2,"pool":"kubernetes","image":"csi-vol-x","accessType":false,"encrypted":false}"#
        try json.write(toFile: staging + "/image-meta.json", atomically: true, encoding: .utf8)
        try await stager.unstage(volumeID: "vol-1", stagingPath: staging)
        #expect(fake.recorded == ["unmap kubernetes/csi-vol-x"])
        #expect(!FileManager.default.fileExists(atPath: staging + "/image-meta.json"))
    }

    @Test func unstageOfAMountWithoutStashIsInternal() async throws {
        try FileManager.default.createDirectory(atPath: staging + "/vol-1", withIntermediateDirectories: true)
        try await fake.host.mounter.mount(source: "/dev/rbd7", target: staging + "/vol-1", fsType: "ext4", options: [])
        let error = await #expect(throws: CSIError.self) { try await stager.unstage(volumeID: "vol-1", stagingPath: staging) }
        #expect(error?.code == .internalError)
    }

    @Test func secondOperationOnAVolumeIsAborted() async throws {
        let locks = VolumeLocks()
        let error = await #expect(throws: CSIError.self) {
            try await locks.withLock("v") { try await locks.withLock("v") {} }
        }
        #expect(error?.code == .aborted)
        try await locks.withLock("v") {}  // released again
    }
}
