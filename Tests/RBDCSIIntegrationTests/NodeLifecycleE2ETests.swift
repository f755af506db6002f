import CSIProtocol
import Foundation
import GRPCCore
import HostOperations
import Testing

/// The whole node lifecycle against the real local Ceph cluster, with the rbd-fuse mapper,
/// real mkfs and real mounts (as root).
@Suite("Node lifecycle against real Ceph (rbd-fuse)", .enabled(if: CephTestCluster.isConfigured), .serialized)
struct NodeLifecycleE2ETests {
    @Test(arguments: ["ext4", "xfs"])
    func filesystemLifecycleKeepsDataAcrossRestage(fsType: String) async throws {
        let image = try await CephTestCluster.createImage(sizeMiB: fsType == "xfs" ? 320 : 64)
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: image)
            let capability = CephTestCluster.mountCapability(fsType: fsType)

            // Stage twice: the second call is a no-op.
            _ = try await node.nodeStageVolume(paths.stageRequest(capability))
            _ = try await node.nodeStageVolume(paths.stageRequest(capability))
            #expect(paths.stashExists)
            let staged = try #require(try SystemMountTableProbe.entry(paths.stagedPath))
            #expect(staged.fsType == fsType)
            #expect(staged.source.hasPrefix("/dev/loop"))
            if fsType == "xfs" { #expect(staged.superOptions.contains("nouuid")) }

            // Two pods share the staging mount; publishing twice is fine.
            _ = try await node.nodePublishVolume(paths.publishRequest(capability, target: "a"))
            _ = try await node.nodePublishVolume(paths.publishRequest(capability, target: "a"))
            _ = try await node.nodePublishVolume(paths.publishRequest(capability, target: "b"))
            try "data written through pod a\n".write(toFile: paths.target("a") + "/file.txt", atomically: false, encoding: .utf8)
            #expect(try String(contentsOfFile: paths.target("b") + "/file.txt", encoding: .utf8) == "data written through pod a\n")

            // A read-only publish refuses writes.
            _ = try await node.nodePublishVolume(paths.publishRequest(capability, target: "ro", readonly: true))
            #expect(throws: (any Error).self) {
                try "x".write(toFile: paths.target("ro") + "/other.txt", atomically: false, encoding: .utf8)
            }

            for name in ["a", "b", "ro", "a"] {
                _ = try await node.nodeUnpublishVolume(paths.unpublishRequest(target: name))
                #expect(!FileManager.default.fileExists(atPath: paths.target(name)))
            }
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            #expect(!paths.stashExists)
            #expect(!FileManager.default.fileExists(atPath: paths.stagedPath))
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)

            // A fresh stage finds the filesystem (no second mkfs) and the data.
            _ = try await node.nodeStageVolume(paths.stageRequest(capability))
            _ = try await node.nodePublishVolume(paths.publishRequest(capability, target: "c"))
            #expect(try String(contentsOfFile: paths.target("c") + "/file.txt", encoding: .utf8) == "data written through pod a\n")
            _ = try await node.nodeUnpublishVolume(paths.unpublishRequest(target: "c"))
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    @Test func blockVolumeTargetIsTheDeviceAndDataRoundTrips() async throws {
        let image = try await CephTestCluster.createImage(sizeMiB: 48)
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: image)
            let capability = CephTestCluster.blockCapability()
            _ = try await node.nodeStageVolume(paths.stageRequest(capability))
            _ = try await node.nodePublishVolume(paths.publishRequest(capability, target: "dev"))
            let device = paths.target("dev")
            #expect(try BlockDevice.size(device) == 48 << 20)
            let marker = Array("block data marker \(image)".utf8)
            try BlockDevice.write(marker, to: device, at: 1 << 20)
            _ = try await node.nodeUnpublishVolume(paths.unpublishRequest(target: "dev"))
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)

            _ = try await node.nodeStageVolume(paths.stageRequest(capability))
            #expect(try BlockDevice.read(paths.stagedPath, at: 1 << 20, count: marker.count) == marker)
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    @Test func multiNodeMultiWriterBlockIsAllowed() async throws {
        let image = try await CephTestCluster.createImage(sizeMiB: 16)
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: image)
            _ = try await node.nodeStageVolume(paths.stageRequest(CephTestCluster.blockCapability(mode: .multiNodeMultiWriter)))
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }
}

/// Looks up one mount point in the real mount table.
enum SystemMountTableProbe {
    static func entry(_ path: String) throws -> HostOperations.MountEntry? {
        try HostOperations.SystemMountTable().mount(at: path)
    }
}

/// Raw reads and writes on a device (or a file bind-mounted over one).
enum BlockDevice {
    static func size(_ path: String) throws -> Int64 {
        try HostOperations.HostPaths.size(of: path)
    }

    static func write(_ bytes: [UInt8], to path: String, at offset: UInt64) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: Data(bytes))
        try handle.synchronize()
    }

    static func read(_ path: String, at offset: UInt64, count: Int) throws -> [UInt8] {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        return Array(try handle.read(upToCount: count) ?? Data())
    }
}
