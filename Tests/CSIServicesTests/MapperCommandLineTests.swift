@testable import CephAccess
import Foundation
import HostOperations
import Testing

@testable import CSIServices

/// The exact command lines the mappers run (ceph-csi v3.12's, rbd_attach.go), against a
/// recording fake runner; and rbd-nbd's client log handled per cephLogStrategy on real files.
@Suite("Mapper command lines and rbd-nbd logs")
struct MapperCommandLineTests {
    static let spec = ImageSpec(pool: "rbd", radosNamespace: "ns", image: "csi-vol-1")
    static func request(options: [String] = [], readOnly: Bool = false, logFile: String? = nil) -> MapRequest {
        MapRequest(spec: spec, monitors: "10.0.0.1:6789", userID: "csi", key: "AQkey==", readOnly: readOnly, options: options, volumeID: "vol-1", logFile: logFile)
    }

    @Test func rbdNBDMapHasTheLogFileTheDefaultsAndTheCookieWhereSupported() async throws {
        let runner = RecordingRunner()
        runner.answer("rbd-nbd --id", with: CommandResult(exitCode: 0, standardOutput: "/dev/nbd0\n"))
        let mapper = NBDMapper(runner: runner, cookies: NBDCookieSupport(known: true))
        #expect(try await mapper.map(Self.request(options: ["io-timeout=30"], logFile: "/var/log/ceph/rbd-nbd-vol-1.log")) == "/dev/nbd0")
        #expect(runner.argv == [[
            "rbd-nbd", "--id", "csi", "-m", "10.0.0.1:6789", "--keyfile=/dev/fd/3", "--log-file", "/var/log/ceph/rbd-nbd-vol-1.log",
            "map", "rbd/ns/csi-vol-1", "--try-netlink", "--reattach-timeout=300", "--cookie=vol-1", "--io-timeout=30",
        ]])
        #expect(runner.commands[0].secretFile == Array("AQkey==".utf8))

        let noCookies = RecordingRunner()
        _ = try await NBDMapper(runner: noCookies, cookies: NBDCookieSupport(known: false)).map(Self.request(readOnly: true))
        #expect(noCookies.argv == [[
            "rbd-nbd", "--id", "csi", "-m", "10.0.0.1:6789", "--keyfile=/dev/fd/3",
            "map", "rbd/ns/csi-vol-1", "--try-netlink", "--reattach-timeout=300", "--io-timeout=0", "--read-only",
        ]])
    }

    /// ceph-csi's healer command: `rbd-nbd attach <image> --device <dev>` with the map's flags
    /// and the same cookie; a timed-out attach never unmaps the device under the pods.
    @Test func rbdNBDReattachKeepsTheDeviceAndTheCookie() async throws {
        let runner = RecordingRunner()
        let mapper = NBDMapper(runner: runner, cookies: NBDCookieSupport(known: true))
        try await mapper.reattach(Self.request(options: ["io-timeout=30"], logFile: "/var/log/ceph/rbd-nbd-vol-1.log"), device: "/dev/nbd3")
        #expect(runner.argv == [[
            "rbd-nbd", "--id", "csi", "-m", "10.0.0.1:6789", "--keyfile=/dev/fd/3", "--log-file", "/var/log/ceph/rbd-nbd-vol-1.log",
            "attach", "rbd/ns/csi-vol-1", "--device", "/dev/nbd3", "--try-netlink", "--reattach-timeout=300", "--cookie=vol-1", "--io-timeout=30",
        ]])
        #expect(runner.commands[0].secretFile == Array("AQkey==".utf8))

        let failing = RecordingRunner()
        failing.answer("rbd-nbd --id", with: CommandResult(exitCode: 22, standardError: "rbd-nbd: failed to attach"))
        await #expect(throws: CommandError.self) {
            try await NBDMapper(runner: failing, cookies: NBDCookieSupport(known: false)).reattach(Self.request(), device: "/dev/nbd3")
        }
        #expect(!failing.argv.contains { $0.contains("unmap") })
    }

    @Test func cookieSupportIsAskedOfRbdNBDOnce() async {
        let runner = RecordingRunner()
        runner.answer("rbd-nbd --help", with: CommandResult(exitCode: 0, standardOutput: "  --cookie <arg>   Specify cookie\n"))
        let support = NBDCookieSupport()
        let kernel = NBDCookieSupport.kernelSupportsCookies(release: NBDCookieSupport.kernelRelease())
        #expect(await support.supported(runner: runner) == kernel)
        #expect(await support.supported(runner: runner) == kernel)
        #expect(runner.argv.count == (kernel ? 1 : 0))
        let old = RecordingRunner()
        old.answer("rbd-nbd --help", with: CommandResult(exitCode: 0, standardOutput: "  --try-netlink\n"))
        #expect(await NBDCookieSupport().supported(runner: old) == false)
    }

    @Test(arguments: [("6.1.0-18-amd64", true), ("5.14.0", true), ("5.13.19-generic", false), ("4.18.0-513.el8.x86_64", false), ("", false)])
    func kernelsFrom514HaveNBDCookies(release: String, expected: Bool) {
        #expect(NBDCookieSupport.kernelSupportsCookies(release: release) == expected)
    }

    @Test func rbdNBDUnmapFindsTheDeviceAndPassesTheMountersOptions() async throws {
        let runner = RecordingRunner()
        runner.answer("rbd-nbd list-mapped", with: CommandResult(exitCode: 0, standardOutput: #"[{"id":"1","pool":"rbd","namespace":"ns","image":"csi-vol-1","snap":"-","device":"/dev/nbd3"}]"#))
        try await NBDMapper(runner: runner, cookies: NBDCookieSupport(known: true)).unmap(Self.spec, options: ["timeout=5"])
        #expect(runner.argv == [["rbd-nbd", "list-mapped", "--format", "json"], ["rbd-nbd", "unmap", "/dev/nbd3", "--timeout=5"]])
    }

    @Test func krbdMapAndUnmapAreCephCSIs() async throws {
        let runner = RecordingRunner()
        runner.answer("rbd --id", with: CommandResult(exitCode: 0, standardOutput: "/dev/rbd0\n"))
        let mapper = KernelRBDMapper(runner: runner)
        _ = try await mapper.map(Self.request(options: ["lock_on_read", "queue_depth=1024"], logFile: "/ignored"))
        try await mapper.unmap(Self.spec, options: ["force"])
        #expect(runner.argv == [
            ["rbd", "--id", "csi", "-m", "10.0.0.1:6789", "--keyfile=/dev/fd/3", "map", "rbd/ns/csi-vol-1",
             "--device-type", "krbd", "--options", "noudev", "--options", "lock_on_read,queue_depth=1024"],
            ["rbd", "unmap", "rbd/ns/csi-vol-1", "--device-type", "krbd", "--options", "noudev", "--options", "force"],
        ])
    }

    /// ceph-csi's Multus support: the map runs in the cluster's network namespace through
    /// nsenter, the key still on fd 3.
    @Test func mapsRunInTheClustersNetworkNamespace() async throws {
        var request = Self.request(options: [])
        request.netNamespace = "/var/run/netns/ceph"
        let runner = RecordingRunner()
        _ = try await KernelRBDMapper(runner: runner).map(request)
        _ = try await NBDMapper(runner: runner, cookies: NBDCookieSupport(known: false)).map(request)
        #expect(runner.argv.map { Array($0.prefix(4)) } == [
            ["nsenter", "--net=/var/run/netns/ceph", "--", "rbd"], ["nsenter", "--net=/var/run/netns/ceph", "--", "rbd-nbd"],
        ])
        #expect(runner.argv[0].dropFirst(4).prefix(6) == ["--id", "csi", "-m", "10.0.0.1:6789", "--keyfile=/dev/fd/3", "map"])
        #expect(runner.commands.allSatisfy { $0.secretFile == Array("AQkey==".utf8) })
    }

    /// remove (the default), compress (gzip, as ceph-csi's GzipLogFile), preserve, and an
    /// unknown strategy (kept, as ceph-csi only logs it), on real files with the real gzip.
    @Test(arguments: [("remove", [String]()), ("", []), ("compress", ["rbd-nbd-vol-1.log.gz"]), ("preserve", ["rbd-nbd-vol-1.log"]), ("shred", ["rbd-nbd-vol-1.log"])])
    func rbdNBDLogFollowsTheStrategy(strategy: String, remaining: [String]) async throws {
        let directory = NSTemporaryDirectory() + "rbdcsi-logs-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = CephLogFile.path(volumeID: "vol-1", directory: directory)
        #expect(log == directory + "/rbd-nbd-vol-1.log")
        try "rbd-nbd says hello\n".write(toFile: log, atomically: true, encoding: .utf8)
        let mapper = NBDMapper(runner: ProcessRunner(), cookies: NBDCookieSupport(known: false))
        _ = try await mapper.finishLog(volumeID: "vol-1", directory: directory, strategy: strategy)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == remaining)
        // No log (a stage that never mapped): nothing to do, no error.
        #expect(try await mapper.finishLog(volumeID: "vol-2", directory: directory, strategy: "compress") == "no log file")
    }

    @Test func cephLogDirMustBeAbsoluteAndCanonical() throws {
        func parameters(_ logDir: String?) throws -> StageParameters {
            let staging = NSTemporaryDirectory()
            return try StageParameters(.with {
                $0.volumeID = "vol-1"
                $0.stagingTargetPath = String(staging.dropLast(staging.hasSuffix("/") ? 1 : 0))
                $0.volumeCapability = .with { $0.mount = .init(); $0.accessMode.mode = .singleNodeWriter }
                $0.secrets = ["userID": "u", "userKey": "k"]
                $0.volumeContext = ["staticVolume": "true", "pool": "rbd", "clusterID": "c1", "mounter": "rbd-nbd"]
                if let logDir { $0.volumeContext["cephLogDir"] = logDir }
            })
        }
        #expect(try parameters(nil).cephLogDir == "/var/log/ceph")
        #expect(try parameters(nil).cephLogStrategy == "remove")
        #expect(try parameters("/var/log/rbd/").cephLogDir == "/var/log/rbd")
        for bad in ["relative/logs", "/var/log/../../etc", "/var//log"] {
            let error = #expect(throws: CSIError.self) { try parameters(bad) }
            #expect(error?.code == .invalidArgument)
        }
    }
}
