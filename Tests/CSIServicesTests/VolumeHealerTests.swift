import CSIProtocol
import CephAccess
import Foundation
import HostOperations
import Logging
import Testing

@testable import CSIServices

/// The start-up healer over a fake host whose rbd-nbd mapper runs a recording command runner:
/// which volumes get a new daemon, with which command, and which are left alone.
@Suite("Volume healer (rbd-nbd re-attach after a restart)")
struct VolumeHealerTests {
    static func staging(_ stash: ImageMetadataStash?) throws -> String {
        let path = NSTemporaryDirectory() + "rbdcsi-heal-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try stash?.write(to: path)
        return path
    }

    static func stash(image: String, mapper: MapperKind, device: String, volumeID: String) -> ImageMetadataStash {
        var stash = ImageMetadataStash(spec: ImageSpec(pool: "rbd", radosNamespace: "", image: image), mapper: mapper, unmapOptions: "")
        stash.device = device
        stash.volumeID = volumeID
        return stash
    }

    static func request(_ volumeID: String, staging: String) -> Csi_V1_NodeStageVolumeRequest {
        .with {
            $0.volumeID = volumeID
            $0.stagingTargetPath = staging
            $0.volumeCapability = .with { $0.accessMode.mode = .singleNodeWriter; $0.mount = .with { $0.fsType = "ext4" } }
            $0.secrets = ["userID": "csi", "userKey": "AQkey=="]
            $0.volumeContext = ["staticVolume": "true", "pool": "rbd", "clusterID": "c1", "mounter": "rbd-nbd"]
        }
    }

    @Test func deadDaemonsGetANewOneOnTheSameDeviceAndOthersAreLeftAlone() async throws {
        let fake = FakeHost()
        let runner = RecordingRunner()
        // Only img-alive still has a live daemon.
        runner.answer("rbd-nbd list-mapped", with: CommandResult(exitCode: 0, standardOutput: #"[{"id":"9","pool":"rbd","namespace":"","image":"img-alive","snap":"-","device":"/dev/nbd1"}]"#))
        var host = fake.host
        host.mappers[.nbd] = NBDMapper(runner: runner, cookies: NBDCookieSupport(known: true))
        let dead = try Self.staging(Self.stash(image: "img-dead", mapper: .nbd, device: "/dev/nbd3", volumeID: "img-dead"))
        let alive = try Self.staging(Self.stash(image: "img-alive", mapper: .nbd, device: "/dev/nbd1", volumeID: "img-alive"))
        let krbd = try Self.staging(Self.stash(image: "img-krbd", mapper: .krbd, device: "", volumeID: "img-krbd"))
        let empty = try Self.staging(nil)
        let foreign = try Self.staging(Self.stash(image: "img-other", mapper: .nbd, device: "/dev/nbd4", volumeID: "img-other"))
        let noDevice = try Self.staging(Self.stash(image: "img-nodev", mapper: .nbd, device: "/dev/sda", volumeID: "img-nodev"))

        let outcomes = await VolumeHealer(host: host, logger: Logger(label: "test")).heal([
            Self.request("img-dead", staging: dead), Self.request("img-alive", staging: alive), Self.request("img-krbd", staging: krbd),
            Self.request("img-empty", staging: empty), Self.request("img-mine", staging: foreign), Self.request("img-nodev", staging: noDevice),
        ], limit: .seconds(30))

        #expect(outcomes["img-dead"] == .reattached(device: "/dev/nbd3"))
        #expect(outcomes["img-alive"] == .alreadyServing(device: "/dev/nbd1"))
        #expect(outcomes["img-krbd"] == .skipped(reason: "staged with rbd, not rbd-nbd"))
        #expect(outcomes["img-empty"] == .skipped(reason: "nothing is staged at \(empty)"))
        guard case .failed(let reason) = outcomes["img-mine"] else { Issue.record("another volume's stash was healed"); return }
        #expect(reason.hasPrefix("FAILED_PRECONDITION"))
        guard case .failed(let device) = outcomes["img-nodev"] else { Issue.record("a stash naming no nbd device was used"); return }
        #expect(device.contains("/dev/sda"))

        // One attach, for the dead daemon only, on its own device with its cookie; nothing
        // was mounted, unmounted or unmapped.
        let attaches = runner.argv.filter { $0.contains("attach") }
        #expect(attaches == [[
            "rbd-nbd", "--id", "csi", "-m", "10.0.0.1:6789", "--keyfile=/dev/fd/3", "--log-file", "/var/log/ceph/rbd-nbd-img-dead.log",
            "attach", "rbd/img-dead", "--device", "/dev/nbd3", "--try-netlink", "--reattach-timeout=300", "--io-timeout=0", "--cookie=img-dead",
        ]])
        #expect(!runner.argv.contains { $0.contains("unmap") || $0.contains("map") })
        #expect(fake.recorded.isEmpty)
    }

    @Test func healingStopsAtItsTimeLimit() async throws {
        let fake = FakeHost()
        let runner = RecordingRunner()
        runner.answer("rbd-nbd list-mapped", with: CommandResult(exitCode: 0, standardOutput: "[]"))
        runner.delay("rbd-nbd --id", by: .seconds(30))
        var host = fake.host
        host.mappers[.nbd] = NBDMapper(runner: runner, cookies: NBDCookieSupport(known: false))
        let dead = try Self.staging(Self.stash(image: "img-slow", mapper: .nbd, device: "/dev/nbd5", volumeID: "img-slow"))
        let start = ContinuousClock.now
        let outcomes = await VolumeHealer(host: host, logger: Logger(label: "test")).heal([Self.request("img-slow", staging: dead)], limit: .milliseconds(300))
        #expect(ContinuousClock.now - start < .seconds(15))  // the attach would take 30 s
        #expect(outcomes["img-slow"] == .failed(reason: "not done within the healing time limit of 0.3 seconds (its attach was stopped)"))
    }
}
