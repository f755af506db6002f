import CSIProtocol
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import HostOperations
import Testing

/// Issue 16: what an adversarial operator found, each as it was reproduced, against real Ceph
/// with rbd-fuse. The item numbers are the issue's.
@Suite("Hardening against real Ceph (issue 16)", .enabled(if: CephTestCluster.isConfigured), .serialized)
struct NodeHardeningE2ETests {
    // Item 1: relative, `..` and symlinked staging and target paths are refused, and nothing is
    // written where a link points.
    @Test func pathsThroughLinksOrWithDotDotAreRefusedAndNothingIsWrittenThere() async throws {
        let image = try await CephTestCluster.createImage(sizeMiB: 16)
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let outside = plugin.directory + "/outside"
            try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: plugin.directory + "/link", withDestinationPath: outside)
            let paths = try VolumePaths(plugin: plugin, volumeID: image)
            for staging in [plugin.directory + "/link", "relative/staging", paths.staging + "/../outside", plugin.directory + "//outside"] {
                var request = paths.stageRequest(CephTestCluster.mountCapability())
                request.stagingTargetPath = staging
                #expect(await code { _ = try await node.nodeStageVolume(request) } == .invalidArgument, "\(staging)")
                var unstage = paths.unstageRequest
                unstage.stagingTargetPath = staging
                #expect(await code { _ = try await node.nodeUnstageVolume(unstage) } == .invalidArgument, "\(staging)")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)

            _ = try await node.nodeStageVolume(paths.stageRequest(CephTestCluster.mountCapability()))
            var publish = paths.publishRequest(CephTestCluster.mountCapability(), target: "pod")
            publish.targetPath = plugin.directory + "/link/mount"
            #expect(await code { _ = try await node.nodePublishVolume(publish) } == .invalidArgument)
            #expect(await code { _ = try await node.nodeUnpublishVolume(.with { $0.volumeID = image; $0.targetPath = plugin.directory + "/link" }) } == .invalidArgument)
            #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
            #expect(FileManager.default.fileExists(atPath: plugin.directory + "/link"))
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    // Item 2: unpublish deletes only what is empty; publish never mounts over data.
    @Test func hostFilesAtATargetPathAreNeverDeletedOrMountedOver() async throws {
        let image = try await CephTestCluster.createImage(sizeMiB: 16)
        let blockImage = try await CephTestCluster.createImage(sizeMiB: 16)
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let file = plugin.directory + "/precious-file"
            let directory = plugin.directory + "/precious-dir"
            try "host data".write(toFile: file, atomically: false, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try "host data".write(toFile: directory + "/inside", atomically: false, encoding: .utf8)
            for target in [file, directory] {
                #expect(await code { _ = try await node.nodeUnpublishVolume(.with { $0.volumeID = image; $0.targetPath = target }) } == .failedPrecondition)
            }
            #expect(try String(contentsOfFile: file, encoding: .utf8) == "host data")
            #expect(try String(contentsOfFile: directory + "/inside", encoding: .utf8) == "host data")

            let paths = try VolumePaths(plugin: plugin, volumeID: image)
            let mount = CephTestCluster.mountCapability()
            _ = try await node.nodeStageVolume(paths.stageRequest(mount))
            var publish = paths.publishRequest(mount, target: "pod")
            publish.targetPath = directory
            #expect(await code { _ = try await node.nodePublishVolume(publish) } == .failedPrecondition)
            #expect(try SystemMountTableProbe.entry(directory) == nil)

            let blockPaths = try VolumePaths(plugin: plugin, volumeID: blockImage)
            let block = CephTestCluster.blockCapability()
            _ = try await node.nodeStageVolume(blockPaths.stageRequest(block))
            var blockPublish = blockPaths.publishRequest(block, target: "dev")
            blockPublish.targetPath = file
            #expect(await code { _ = try await node.nodePublishVolume(blockPublish) } == .failedPrecondition)
            #expect(try String(contentsOfFile: file, encoding: .utf8) == "host data")

            // An empty target directory that is not a mount is still removed, as the spec asks.
            let empty = plugin.directory + "/empty-target"
            try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
            _ = try await node.nodeUnpublishVolume(.with { $0.volumeID = image; $0.targetPath = empty })
            #expect(!FileManager.default.fileExists(atPath: empty))

            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            _ = try await node.nodeUnstageVolume(blockPaths.unstageRequest)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    // Item 3: a volume staged at S1 and asked at S2 is refused at once; S1 keeps working. A
    // staging directory holding another volume's stash is refused.
    @Test func secondStagingPathIsRefusedAndTheFirstStagingKeepsItsDevice() async throws {
        let image = try await CephTestCluster.createImage(sizeMiB: 32)
        let other = try await CephTestCluster.createImage(sizeMiB: 16)
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let first = try VolumePaths(plugin: plugin, volumeID: image)
            let capability = CephTestCluster.mountCapability()
            _ = try await node.nodeStageVolume(first.stageRequest(capability))
            try "written at S1\n".write(toFile: first.stagedPath + "/marker", atomically: false, encoding: .utf8)
            let device = try #require(try SystemMountTableProbe.entry(first.stagedPath)?.source)

            var second = first.stageRequest(capability)
            second.stagingTargetPath = plugin.directory + "/second-staging"
            try FileManager.default.createDirectory(atPath: second.stagingTargetPath, withIntermediateDirectories: true)
            let start = ContinuousClock.now
            #expect(await code { _ = try await node.nodeStageVolume(second) } == .failedPrecondition)
            #expect(ContinuousClock.now - start < .seconds(5))
            #expect(!FileManager.default.fileExists(atPath: second.stagingTargetPath + "/image-meta.json"))
            #expect(!FileManager.default.fileExists(atPath: second.stagingTargetPath + "/" + image))

            // Another volume into S1's staging directory.
            var shared = try VolumePaths(plugin: plugin, volumeID: other).stageRequest(capability)
            shared.stagingTargetPath = first.staging
            #expect(await code { _ = try await node.nodeStageVolume(shared) } == .failedPrecondition)

            // S1 still has its device, its data, and takes writes.
            #expect(try SystemMountTableProbe.entry(first.stagedPath)?.source == device)
            #expect(FileManager.default.fileExists(atPath: "/sys/block/\(device.dropFirst(5))/loop/backing_file"))
            #expect(try String(contentsOfFile: first.stagedPath + "/marker", encoding: .utf8) == "written at S1\n")
            try "still writable\n".write(toFile: first.stagedPath + "/after", atomically: true, encoding: .utf8)
            let staleStash = try String(contentsOfFile: first.staging + "/image-meta.json", encoding: .utf8)
            #expect(staleStash.contains(image))

            _ = try await node.nodeUnstageVolume(first.unstageRequest)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    // Item 4 (and the rbd-fuse log): the key is never a file; rbd-fuse reads it from /dev/fd/3
    // and logs under the state directory.
    @Test func noKeyFileIsWrittenAndRbdFuseLogsUnderTheStateDirectory() async throws {
        let image = try await CephTestCluster.createImage(sizeMiB: 16)
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: image)
            _ = try await node.nodeStageVolume(paths.stageRequest(CephTestCluster.mountCapability()))
            let daemons = ProcessTable.pids { argv in argv.first?.hasSuffix("rbd-fuse") == true && argv.dropFirst().first?.hasPrefix(plugin.stateDirectory) == true }
            #expect(daemons.count == 1)
            let argv = try daemons.first.map { try String(contentsOfFile: "/proc/\($0)/cmdline", encoding: .utf8) } ?? ""
            #expect(argv.contains("--keyfile=/dev/fd/3"))
            #expect(!argv.contains(CephTestCluster.secrets["userKey"]!))
            #expect(!FileManager.default.fileExists(atPath: plugin.stateDirectory + "/keys"))
            let logs = try FileManager.default.contentsOfDirectory(atPath: plugin.stateDirectory + "/log")
            #expect(logs.contains { $0.hasPrefix("rbd-fuse-") && $0.hasSuffix(".log") })
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
        }
    }

    // Item 6: a killed rbd-fuse is an abnormal volume, and unstage still cleans up.
    @Test func killedRbdFuseMakesTheVolumeAbnormalAndUnstageCleansUp() async throws {
        let image = try await CephTestCluster.createImage(sizeMiB: 16)
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: image)
            _ = try await node.nodeStageVolume(paths.stageRequest(CephTestCluster.mountCapability()))
            let stats = { try await node.nodeGetVolumeStats(.with { $0.volumeID = image; $0.volumePath = paths.stagedPath }) }
            #expect(try await stats().volumeCondition.abnormal == false)

            for pid in Self.fuseDaemons(of: plugin) { kill(pid, SIGKILL) }
            let killed = ContinuousClock.now
            let condition = try await Self.pollUntilAbnormal(for: .seconds(20)) { try await stats().volumeCondition }
            // A caller that asks this often gets the kept answer until it is 5 s old; the
            // check it then starts finds the daemon dead.
            #expect(ContinuousClock.now - killed < .seconds(10))
            #expect(condition.abnormal)
            #expect(condition.message.contains("not connected"), "\(condition.message)")

            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    // Items 6 and 7: a lazily unmounted FUSE mount is abnormal; unstage releases its loop
    // device and daemon, so the image has no watcher and stages again at once.
    @Test func lazilyUnmountedFuseMountIsAbnormalAndReleasedByUnstage() async throws {
        let image = try await CephTestCluster.createImage(sizeMiB: 16)
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: image)
            let capability = CephTestCluster.mountCapability()
            _ = try await node.nodeStageVolume(paths.stageRequest(capability))
            let fuseMount = try #require(try SystemMountTable().entries().first { $0.fsType.hasPrefix("fuse") && $0.mountPoint.hasPrefix(plugin.stateDirectory) }?.mountPoint)
            try await CephTestCluster.runner.runChecked(Command("umount", ["-l", fuseMount], timeout: .seconds(10)))

            let stats = try await node.nodeGetVolumeStats(.with { $0.volumeID = image; $0.volumePath = paths.stagedPath })
            #expect(stats.volumeCondition.abnormal)
            #expect(stats.volumeCondition.message.contains("gone"), "\(stats.volumeCondition.message)")

            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            #expect(Self.fuseDaemons(of: plugin).isEmpty)
            let loops = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/block")) ?? []
            #expect(!loops.contains { LoopDevices.setupName(of: "/dev/\($0)")?.hasPrefix(plugin.directory) == true })
            _ = try await Self.poll(for: .seconds(10)) { () -> Bool? in
                let status = try await CephTestCluster.rbd(["status", "\(CephTestCluster.pool)/\(image)"])
                return status.contains("watcher=") ? nil : true
            }
            let start = ContinuousClock.now
            _ = try await node.nodeStageVolume(paths.stageRequest(capability))
            #expect(ContinuousClock.now - start < .seconds(10))
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    // Item 6: an image whose OSDs do not answer is abnormal within the read limit. Its pool's
    // placement groups are moved to a rule that maps to no OSD, so no other test is affected.
    @Test func volumeWhoseOSDsDoNotAnswerIsAbnormal() async throws {
        let pool = "e2e-health-\(UUID().uuidString.prefix(6).lowercased())"
        _ = try? await CephTestCluster.ceph(["osd", "crush", "add-bucket", "e2e-empty", "root"])
        _ = try? await CephTestCluster.ceph(["osd", "crush", "rule", "create-replicated", "e2e-nowhere", "e2e-empty", "osd"])
        try await CephTestCluster.ceph(["osd", "pool", "create", pool, "8", "8"])
        try await CephTestCluster.rbd(["pool", "init", pool])
        let image = "health-image"
        try await CephTestCluster.rbd(["create", "--size", "16", "\(pool)/\(image)"])
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: image)
            _ = try await node.nodeStageVolume(paths.stageRequest(CephTestCluster.mountCapability(), context: CephTestCluster.context(extra: ["pool": pool])))
            let stats = { try await node.nodeGetVolumeStats(.with { $0.volumeID = image; $0.volumePath = paths.stagedPath }) }
            #expect(try await stats().volumeCondition.abnormal == false)

            try await CephTestCluster.ceph(["osd", "pool", "set", pool, "crush_rule", "e2e-nowhere"])
            let start = ContinuousClock.now
            let stuck = try await Self.pollUntilAbnormal(for: .seconds(20)) { try await stats().volumeCondition }
            #expect(stuck.message.contains("did not complete") || stuck.message.contains("has not completed"), "\(stuck.message)")
            // Each call answers within the read limit, whatever the device does.
            let call = ContinuousClock.now
            _ = try await stats()
            #expect(ContinuousClock.now - call < .seconds(4))
            #expect(ContinuousClock.now - start < .seconds(20))

            try await CephTestCluster.ceph(["osd", "pool", "set", pool, "crush_rule", "replicated_rule"])
            _ = try await Self.poll(for: .seconds(60)) { () -> Bool? in try await stats().volumeCondition.abnormal ? nil : true }
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    // Item 8: oversized requests are RESOURCE_EXHAUSTED naming the limit; the connection stays usable.
    @Test func oversizedRequestsNameTheLimit() async throws {
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let huge = String(repeating: "v", count: 10 << 20)
            var error: RPCError?
            do {
                _ = try await node.nodeStageVolume(.with { $0.volumeID = huge; $0.stagingTargetPath = plugin.directory })
            } catch let rpc as RPCError {
                error = rpc
            }
            #expect(error?.code == .resourceExhausted)
            #expect(error?.message.contains("limit of 4194304 bytes") == true, "\(String(describing: error))")
            var secrets: Csi_V1_NodeStageVolumeRequest = .with { $0.volumeID = "v" }
            secrets.secrets = ["userKey": String(repeating: "k", count: 6 << 20)]
            #expect(await code { _ = try await node.nodeStageVolume(secrets) } == .resourceExhausted)
            _ = try await node.nodeGetCapabilities(.init())
        }
    }

    // Item 9: a wrong key against a bare `host:port` monitor is PERMISSION_DENIED, quickly.
    @Test func wrongKeyIsPermissionDeniedQuickly() async throws {
        let image = try await CephTestCluster.createImage(sizeMiB: 16)
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: image)
            for secrets in [["userID": CephTestCluster.secrets["userID"]!, "userKey": "AQCYaAlrnI8sFRAAS6bLqE4UfseKMm6v2etRTA=="],
                            ["userID": "no-such-user", "userKey": CephTestCluster.secrets["userKey"]!]] {
                var request = paths.stageRequest(CephTestCluster.mountCapability())
                request.secrets = secrets
                let start = ContinuousClock.now
                #expect(await code { _ = try await node.nodeStageVolume(request) } == .permissionDenied)
                #expect(ContinuousClock.now - start < .seconds(5))
            }
            #expect(!paths.stashExists)
        }
    }

    // Item 10 and a minor one: control characters in ids; stats only on the plugin's paths.
    @Test func controlCharactersInIdsAndForeignStatsPathsAreRefused() async throws {
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: "a\nforged line")
            #expect(await code { _ = try await node.nodeStageVolume(paths.stageRequest(CephTestCluster.mountCapability())) } == .invalidArgument)
            for path in ["/", "/tmp", "/proc", "relative/path", plugin.directory + "/../..", plugin.directory] {
                #expect(await code { _ = try await node.nodeGetVolumeStats(.with { $0.volumeID = "v"; $0.volumePath = path }) } == .notFound, "\(path)")
            }
        }
    }

    // Minor: idle connections are closed, and their number is limited.
    @Test func idleConnectionsAreClosedAndTheirNumberLimited() async throws {
        try await TestPlugin.run(limits: .init(maxConnections: 4, idleTimeout: .seconds(5))) { plugin, client in
            _ = try await Csi_V1_Identity.Client(wrapping: client).probe(.init())
            #expect(plugin.server!.openConnections == 1)
            let sockets = try (0..<6).map { _ in try RawSocket(connectingTo: plugin.endpoint.socketPath) }
            // Three more are admitted (4 in all); the others are closed at once (long before the
            // idle time; all six are watched at the same time).
            let closed = await withTaskGroup(of: (Int, Bool).self) { group in
                for (index, socket) in sockets.enumerated() {
                    group.addTask { (index, await offThePool { socket.waitForClose(within: .seconds(2)) }) }
                }
                return await group.reduce(into: [Bool](repeating: false, count: sockets.count)) { $0[$1.0] = $1.1 }
            }
            #expect(closed.filter { $0 }.count == 3)
            let admitted = zip(sockets, closed).filter { !$0.1 }.map(\.0)
            try #require(admitted.count == 3)
            // One speaks HTTP/2 and then idles: the server says GOAWAY after the idle time.
            admitted[0].sendHTTP2Preface()
            let start = ContinuousClock.now
            #expect(await offThePool { admitted[0].waitForGoAway(within: .seconds(15)) } == 0)  // NO_ERROR
            #expect(ContinuousClock.now - start >= .seconds(2))
            // The silent ones are closed after the idle time.
            #expect(await offThePool { admitted[1].waitForClose(within: .seconds(10)) })
            #expect(await offThePool { admitted[2].waitForClose(within: .seconds(10)) })
            // A new client is served as before.
            try await ProcessHardeningTests.withClient(plugin.endpoint.socketPath) { fresh in
                _ = try await Csi_V1_Identity.Client(wrapping: fresh).probe(.init())
            }
        }
    }

    static func fuseDaemons(of plugin: TestPlugin) -> [pid_t] {
        ProcessTable.pids { argv in argv.first?.hasSuffix("rbd-fuse") == true && argv.dropFirst().first?.hasPrefix(plugin.stateDirectory) == true }
    }

    /// Calls `body` every 200 ms until it returns a value, for at most `limit`.
    static func poll<T>(for limit: Duration, _ body: () async throws -> T?) async throws -> T {
        let deadline = ContinuousClock.now + limit
        while true {
            if let value = try await body() { return value }
            guard ContinuousClock.now < deadline else { throw TestFailure("no answer within \(limit)") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}

extension NodeHardeningE2ETests {
    static func pollUntilAbnormal(for limit: Duration, _ body: () async throws -> Csi_V1_VolumeCondition) async throws -> Csi_V1_VolumeCondition {
        try await poll(for: limit) { () -> Csi_V1_VolumeCondition? in
            let condition = try await body()
            return condition.abnormal ? condition : nil
        }
    }
}

/// A plain unix-socket connection that sends nothing: to count what the server admits.
final class RawSocket: @unchecked Sendable {  // an fd set once
    let fd: Int32

    init(connectingTo path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            let bytes = Array(path.utf8)
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw TestFailure("connect \(path): errno \(errno)") }
    }

    deinit { close(fd) }

    /// The HTTP/2 client preface and an empty SETTINGS frame: a connection that then idles.
    func sendHTTP2Preface() {
        let bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0]
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// The error code of the HTTP/2 GOAWAY frame (type 7) the server sends within `limit`.
    func waitForGoAway(within limit: Duration) -> UInt32? {
        let deadline = ContinuousClock.now + limit
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 100) >= 0 else { return nil }
            guard entry.revents != 0 else { continue }
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            received += buffer[0..<n]
            var offset = 0
            while offset + 9 <= received.count {
                let length = Int(received[offset]) << 16 | Int(received[offset + 1]) << 8 | Int(received[offset + 2])
                if received[offset + 3] == 7, offset + 17 <= received.count {
                    return received[(offset + 13)..<(offset + 17)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                }
                offset += 9 + length
            }
        }
        return nil
    }

    /// Whether the server closed the connection (read gives end of file or a reset) within `limit`.
    func waitForClose(within limit: Duration) -> Bool {
        let deadline = ContinuousClock.now + limit
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = deadline - ContinuousClock.now
            let millis = Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000) + 1
            guard poll(&entry, 1, millis) > 0 else { return false }
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return true }
        }
        return false
    }
}
