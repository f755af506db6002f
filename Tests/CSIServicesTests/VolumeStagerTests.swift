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
            "status rbd/vol-1 watchers=0",
            "map rbd/vol-1 ro=false key=true",
            "mkfs xfs /dev/rbd7",
            "mount /dev/rbd7 \(staging)/vol-1 xfs _netdev,noatime,nouuid",
        ])
        #expect(FileManager.default.fileExists(atPath: staging + "/image-meta.json"))
    }

    /// ceph-csi formats a blank static volume; `formatStaticVolume=false` refuses it; a static
    /// volume that holds anything (another filesystem, a partition table) is never formatted.
    @Test(arguments: [(nil, nil, true), ("false", nil, false), ("true", nil, true), (nil, "unknown data", false), (nil, "xfs", false)] as [(String?, String?, Bool)])
    func staticVolumesAreFormattedOnlyWhenBlank(formatStaticVolume: String?, content: String?, formatted: Bool) async throws {
        var r = request()
        r.volumeContext["formatStaticVolume"] = formatStaticVolume
        fake.deviceContent.withLock { $0 = content }
        if formatted {
            try await stager.stage(StageParameters(r))
        } else {
            let error = await #expect(throws: CSIError.self) { try await stager.stage(StageParameters(r)) }
            #expect(error?.code == .failedPrecondition)
            #expect(fake.recorded.last == "unmap rbd/vol-1")
        }
        #expect(fake.recorded.contains("mkfs ext4 /dev/rbd7") == formatted)
    }

    /// ceph-csi's krbd feature check: journaling (0x40) is beyond a kernel mask of 0x3d; with
    /// tryOtherMounters the volume goes to rbd-nbd (and its stash says so), without it nothing
    /// is mapped; a kernel without the driver's list leaves it to krbd.
    @Test(arguments: [("0x3d\n", false, "refused"), ("0x3d\n", true, "/dev/nbd3"), ("0x7d", false, "/dev/rbd7"), (nil, false, "/dev/rbd7")] as [(String?, Bool, String)])
    func krbdLackingFeaturesFallsBackToRbdNBDOnlyWhenAllowed(mask: String?, tryOthers: Bool, outcome: String) async throws {
        if let mask { try mask.write(toFile: fake.krbdFeaturesPath, atomically: true, encoding: .utf8) }
        defer { try? FileManager.default.removeItem(atPath: fake.krbdFeaturesPath) }
        fake.imageFeatures.withLock { $0 = 1 | 4 | 64 }  // layering, exclusive-lock, journaling
        var r = request()
        if tryOthers { r.volumeContext["tryOtherMounters"] = "true" }
        if outcome == "refused" {
            let error = await #expect(throws: CSIError.self) { try await stager.stage(StageParameters(r)) }
            #expect(error?.code == .failedPrecondition)
            #expect(error?.message.contains("journaling") == true)
            #expect(!fake.recorded.contains { $0.hasPrefix("map") })
            #expect(try ImageMetadataStash.read(from: staging) == nil)
        } else {
            try await stager.stage(StageParameters(r))
            #expect(fake.recorded.contains("mount \(outcome) \(staging)/vol-1 ext4 _netdev"))
            #expect(try ImageMetadataStash.read(from: staging)?.mapper == (outcome == "/dev/nbd3" ? .nbd : .krbd))
        }
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
        #expect(fake.recorded == ["status rbd/vol-1 watchers=0", "map rbd/vol-1 ro=true key=true", "mount /dev/rbd7 \(staging)/vol-1 ext4 _netdev,ro"])
    }

    @Test func timedOutMapIsUndoneCompletely() async throws {
        fake.mapFailure.withLock { $0 = .timedOut(command: "rbd map rbd/vol-1", after: .seconds(120), standardError: "") }
        let error = await #expect(throws: CommandError.self) { try await stager.stage(StageParameters(request())) }
        #expect(RPCError(mapping: error!).code == .internalError)
        #expect(RPCError(mapping: error!).message.contains("timed out after 120s"))
        #expect(fake.recorded == ["status rbd/vol-1 watchers=0", "map rbd/vol-1 ro=false key=true", "unmap rbd/vol-1"])
        #expect(!FileManager.default.fileExists(atPath: staging + "/image-meta.json"))
        #expect(!FileManager.default.fileExists(atPath: staging + "/vol-1"))
    }

    @Test func foreignFilesystemIsUndoneAndRefused() async throws {
        fake.deviceContent.withLock { $0 = "xfs" }
        let error = await #expect(throws: CSIError.self) { try await stager.stage(StageParameters(request(fsType: "ext4"))) }
        #expect(error?.code == .failedPrecondition)
        #expect(fake.recorded == ["status rbd/vol-1 watchers=0", "map rbd/vol-1 ro=false key=true", "unmap rbd/vol-1"])
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

    @Test(arguments: ["ext4", "xfs"])
    func filesystemSmallerThanTheDeviceGrowsOnStage(fsType: String) async throws {
        fake.deviceContent.withLock { $0 = fsType }
        fake.sizes.withLock { $0 = (FilesystemSuperblock(blockSize: 4096, blockCount: 16384), 128 << 20) }
        try await stager.stage(StageParameters(request(fsType: fsType)))
        let mount = "mount /dev/rbd7 \(staging)/vol-1 \(fsType) _netdev\(fsType == "xfs" ? ",nouuid" : "")"
        if fsType == "xfs" {
            #expect(Array(fake.recorded.suffix(2)) == [mount, "grow xfs \(staging)/vol-1"])
        } else {
            #expect(Array(fake.recorded.suffix(3)) == ["fsck /dev/rbd7", "grow unmounted ext4 /dev/rbd7", mount])
        }
    }

    @Test func filesystemFillingTheDeviceIsNotGrown() async throws {
        fake.deviceContent.withLock { $0 = "ext4" }
        // Within one block of the device: nothing to do (Kubernetes' rule).
        fake.sizes.withLock { $0 = (FilesystemSuperblock(blockSize: 4096, blockCount: 32768), (128 << 20) + 4095) }
        try await stager.stage(StageParameters(request()))
        #expect(!fake.recorded.contains { $0.hasPrefix("grow") })
        try await stager.unstage(volumeID: "vol-1", stagingPath: staging)
        // Read-only stages never grow.
        fake.sizes.withLock { $0 = (FilesystemSuperblock(blockSize: 4096, blockCount: 1), 128 << 20) }
        try await stager.stage(StageParameters(request(mode: .singleNodeReaderOnly)))
        #expect(!fake.recorded.contains { $0.hasPrefix("grow") })
    }

    @Test func imageWatchedElsewhereIsMappedOnceTheWatchGoes() async throws {
        fake.watchers.withLock { $0 = [["10.0.0.9:0/1"], ["10.0.0.9:0/1"], []] }
        try await stager.stage(StageParameters(request()))
        #expect(Array(fake.recorded.prefix(4)) == [
            "status rbd/vol-1 watchers=1", "status rbd/vol-1 watchers=1", "status rbd/vol-1 watchers=0", "map rbd/vol-1 ro=false key=true",
        ])
    }

    @Test func imageThatStaysWatchedIsRefusedBeforeAnythingIsWritten() async throws {
        fake.watchers.withLock { $0 = [["10.0.0.9:0/1"]] }
        let error = await #expect(throws: CSIError.self) { try await stager.stage(StageParameters(request())) }
        #expect(error?.code == .failedPrecondition)
        #expect(error?.message.contains("still being used by 10.0.0.9:0/1") == true)
        #expect(fake.recorded == Array(repeating: "status rbd/vol-1 watchers=1", count: 4))
        #expect(!FileManager.default.fileExists(atPath: staging + "/image-meta.json"))
    }

    @Test func multiNodeAccessSharesTheImageWithoutWaiting() async throws {
        fake.watchers.withLock { $0 = [["10.0.0.9:0/1"]] }
        fake.deviceContent.withLock { $0 = "ext4" }
        try await stager.stage(StageParameters(request(mode: .multiNodeReaderOnly)))
        #expect(fake.recorded.filter { $0.hasPrefix("status") }.count == 1)
        #expect(fake.recorded.contains("map rbd/vol-1 ro=true key=true"))
    }

    @Test func inUseWaitFollowsCephCSIsBackoff() {
        let delays = InUseWait().delays
        #expect(delays.count == 9)
        #expect(delays.prefix(3) == [.seconds(1), .milliseconds(1400), .milliseconds(1960)])
        let total = delays.reduce(Duration.zero, +)
        #expect(total > .seconds(45) && total < .seconds(75))
    }

    static let uuid = "40b130e1-a630-11eb-8bea-246e968ec20c"
    /// A ceph-csi volume id in cluster c1, pool id 7.
    static let journalID = "0001-0002-c1-0000000000000007-\(uuid)"

    func journalRequest(_ id: String = journalID) -> Csi_V1_NodeStageVolumeRequest {
        var r = request()
        r.volumeID = id
        r.volumeContext = ["clusterID": "c1", "pool": "ignored-for-journal-volumes"]
        return r
    }

    @Test func journalVolumeIsFoundThroughItsEntryAndFormattedWhenBlank() async throws {
        fake.journal.withLock { $0[Self.uuid] = ["csi.volname": "pvc-1", "csi.imagename": "csi-vol-named", "csi.imageid": "abc"] }
        try await stager.stage(StageParameters(journalRequest()))
        #expect(fake.recorded == [
            "journal 7 csi.volume.\(Self.uuid) mons=10.0.0.1:6789",
            "status replicapool/csi-vol-named watchers=0",
            "map replicapool/csi-vol-named ro=false key=true",
            "mkfs ext4 /dev/rbd7",
            "mount /dev/rbd7 \(staging)/\(Self.journalID) ext4 _netdev",
        ])
    }

    @Test func journalEntryWithoutImageNameUsesCephCSIsDefault() async throws {
        fake.journal.withLock { $0[Self.uuid] = ["csi.volname": "pvc-1"] }
        fake.deviceContent.withLock { $0 = "ext4" }
        try await stager.stage(StageParameters(journalRequest()))
        #expect(fake.recorded.contains("map replicapool/csi-vol-\(Self.uuid) ro=false key=true"))
    }

    @Test(arguments: [
        [String: String]?.none,                     // no journal object
        ["csi.imagename": "csi-vol-x"],             // no csi.volname
        ["csi.volname": "", "csi.imagename": "x"],  // empty csi.volname
    ])
    func missingJournalEntryOrKeyIsNotFoundAndTouchesNothing(values: [String: String]?) async throws {
        fake.journal.withLock { $0[Self.uuid] = values }
        let error = await #expect(throws: CephAccessError.self) { try await stager.stage(StageParameters(journalRequest())) }
        #expect(RPCError(mapping: error!).code == .notFound)
        #expect(RPCError(mapping: error!).message.contains("csi.volume.\(Self.uuid)"))
        #expect(fake.recorded.count == 1)  // the journal read only
        #expect(!FileManager.default.fileExists(atPath: staging + "/image-meta.json"))
    }

    @Test func undecodableIDIsNotFound() async throws {
        let error = await #expect(throws: CSIError.self) { try await stager.stage(StageParameters(journalRequest("0001-0002-c1-000000000000000z-\(Self.uuid)"))) }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("16-digit hex pool id") == true)
        #expect(fake.recorded.isEmpty)
    }

    @Test func clusterOfTheIDMustBeConfigured() async throws {
        let error = await #expect(throws: CephAccessError.self) { try await stager.stage(StageParameters(journalRequest("0001-0002-c9-0000000000000007-\(Self.uuid)"))) }
        #expect(RPCError(mapping: error!).code == .notFound)
        #expect(RPCError(mapping: error!).message.contains("clusterID c9"))
    }

    @Test func slowAndUnreachableClustersHaveTheirOwnCodes() async throws {
        fake.metadataFailure.withLock { $0 = .timedOut(operation: "read journal entry", limit: .seconds(10)) }
        var error = await #expect(throws: CephAccessError.self) { try await stager.stage(StageParameters(journalRequest())) }
        #expect(RPCError(mapping: error!).code == .deadlineExceeded)
        fake.metadataFailure.withLock { $0 = .unreachable(monitors: "10.0.0.1:6789", reason: "Connection timed out (errno 110)") }
        error = await #expect(throws: CephAccessError.self) { try await stager.stage(StageParameters(journalRequest())) }
        #expect(RPCError(mapping: error!).code == .unavailable)
        #expect(!FileManager.default.fileExists(atPath: staging + "/image-meta.json"))
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
