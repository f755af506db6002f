import CSIProtocol
import CSIServices
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import HostOperations
import Testing

/// Stages that fail half-way leave nothing behind; concurrency and restarts.
@Suite("Failures, concurrency and restarts against real Ceph", .enabled(if: CephTestCluster.isConfigured), .serialized)
struct NodeFailureE2ETests {
    @Test func foreignFilesystemIsRefusedNotReformatted() async throws {
        let image = try await CephTestCluster.createImage(sizeMiB: 320)
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: image)
            _ = try await node.nodeStageVolume(paths.stageRequest(CephTestCluster.mountCapability(fsType: "xfs")))
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)

            let result = await code { _ = try await node.nodeStageVolume(paths.stageRequest(CephTestCluster.mountCapability(fsType: "ext4"))) }
            #expect(result == .failedPrecondition)
            #expect(!paths.stashExists)
            #expect(!FileManager.default.fileExists(atPath: paths.stagedPath))
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)

            // Still xfs: nothing was formatted twice.
            _ = try await node.nodeStageVolume(paths.stageRequest(CephTestCluster.mountCapability(fsType: "xfs")))
            #expect(try SystemMountTableProbe.entry(paths.stagedPath)?.fsType == "xfs")
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
        }
    }

    @Test func failedMkfsLeavesNoMountMappingOrStash() async throws {
        let image = try await CephTestCluster.createImage(sizeMiB: 32)
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: image)
            let request = paths.stageRequest(CephTestCluster.mountCapability(), context: CephTestCluster.context(extra: ["mkfsOptions": "-b 12345"]))
            var message = ""
            do {
                _ = try await node.nodeStageVolume(request)
            } catch let error as RPCError {
                #expect(error.code == .internalError)
                message = error.message
            }
            #expect(message.contains("mkfs.ext4"))
            #expect(message.contains("exit code"))
            #expect(!paths.stashExists)
            #expect(!FileManager.default.fileExists(atPath: paths.stagedPath))
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    @Test func missingImageLeavesNothing() async throws {
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: "no-such-image-\(UUID().uuidString.prefix(6))")
            let result = await code { _ = try await node.nodeStageVolume(paths.stageRequest(CephTestCluster.mountCapability())) }
            #expect(result != nil)
            #expect(!paths.stashExists)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    /// Another client holds a watch on the image (as a node that still maps it does): stage
    /// waits with backoff, is refused when the watch stays, and maps once it goes.
    @Test func imageInUseElsewhereWaitsThenFailsOrMaps() async throws {
        let image = try await CephTestCluster.createImage(sizeMiB: 16)
        let watcher = Process()
        watcher.executableURL = URL(fileURLWithPath: "/usr/bin/rbd")
        watcher.arguments = ["-c", CephTestCluster.conf, "watch", "\(CephTestCluster.pool)/\(image)"]
        let input = Pipe()
        watcher.standardInput = input
        watcher.standardOutput = FileHandle.nullDevice
        try watcher.run()
        defer { if watcher.isRunning { watcher.terminate() } }
        // `rbd watch` registers its watch before it prompts; wait until Ceph lists it.
        for _ in 0..<100 where !(try await CephTestCluster.rbd(["status", "\(CephTestCluster.pool)/\(image)"]).contains("watcher=")) {
            try await Task.sleep(for: .milliseconds(100))
        }
        let wait = InUseWait(initialDelay: .milliseconds(200), factor: 1.4, checks: 6)  // about 2 s in all
        try await TestPlugin.run(inUseWait: wait) { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: image)
            let capability = CephTestCluster.blockCapability()
            var message = ""
            do {
                _ = try await node.nodeStageVolume(paths.stageRequest(capability))
            } catch let error as RPCError {
                #expect(error.code == .failedPrecondition)
                message = error.message
            }
            #expect(message.contains("is still being used by 127.0.0.1:"), "\(message)")
            #expect(!paths.stashExists)

            // The other client lets go (enter ends `rbd watch`) while stage waits: it maps.
            async let staged: Void = { _ = try await node.nodeStageVolume(paths.stageRequest(capability)) }()
            try await Task.sleep(for: .seconds(1))
            input.fileHandleForWriting.write(Data("\n".utf8))
            try await staged
            #expect(HostPaths.isBlockDevice(paths.stagedPath))
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
        await watcher.exited()
    }

    @Test func concurrentStagesOfOneVolumeAbortAllButOne() async throws {
        let image = try await CephTestCluster.createImage(sizeMiB: 32)
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: image)
            let request = paths.stageRequest(CephTestCluster.mountCapability())
            async let first = code { _ = try await node.nodeStageVolume(request) }
            async let second = code { _ = try await node.nodeStageVolume(request) }
            let results = await [first, second]
            #expect(results.filter { $0 == nil }.count == 1)
            #expect(results.filter { $0 == .aborted }.count == 1)
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    @Test func eightVolumesStageAtOnce() async throws {
        var images: [String] = []
        for _ in 0..<8 { images.append(try await CephTestCluster.createImage(sizeMiB: 32)) }
        let volumes = images
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let all = try volumes.map { try VolumePaths(plugin: plugin, volumeID: $0) }
            let results = await withTaskGroup(of: RPCError.Code?.self) { group in
                for paths in all {
                    group.addTask { await code { _ = try await node.nodeStageVolume(paths.stageRequest(CephTestCluster.mountCapability())) } }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.count == 8)
            #expect(results.allSatisfy { $0 == nil })
            for paths in all {
                #expect(try SystemMountTableProbe.entry(paths.stagedPath) != nil)
                _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            }
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    @Test func aNewProcessUnstagesFromTheStashAfterSIGKILL() async throws {
        let image = try await CephTestCluster.createImage(sizeMiB: 32)
        let directory = try TestPlugin.makeDirectory()
        try CephTestCluster.writeConfig(in: directory)
        let socket = directory + "/csi.sock"
        let arguments = ["--nodeserver=true", "--nodeid=n1", "--endpoint=unix://\(socket)",
                         "--cluster-config=\(directory)/config.json", "--statedir=\(directory)/state"]
        let plugin = TestPlugin(directory: directory, endpoint: .init(socketPath: socket))
        let paths = try VolumePaths(plugin: plugin, volumeID: image)

        let first = try ProcessLifecycleTests.launch(arguments)
        try await TestPlugin.waitForSocket(socket)
        try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { client in
            _ = try await Csi_V1_Node.Client(wrapping: client).nodeStageVolume(paths.stageRequest(CephTestCluster.mountCapability()))
        }
        kill(first.processIdentifier, SIGKILL)
        await first.exited()
        #expect(try SystemMountTableProbe.entry(paths.stagedPath) != nil)

        let second = try ProcessLifecycleTests.launch(arguments)
        defer { second.terminate(); second.waitUntilExit() }
        // The killed plugin's socket file is still there; the new one listens once it serves.
        try await TestPlugin.waitForSocket(socket)
        try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { client in
            _ = try await Csi_V1_Node.Client(wrapping: client).nodeUnstageVolume(paths.unstageRequest)
        }
        #expect(!paths.stashExists)
        #expect(try CephTestCluster.leftovers(under: directory).isEmpty)
    }
}
