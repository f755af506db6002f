import CSIProtocol
import Foundation
import GRPCCore
import HostOperations
import Testing

/// NodeGetVolumeStats against `df`, and NodeExpandVolume after `rbd resize`, on real Ceph.
@Suite("Volume stats and expansion against real Ceph", .enabled(if: CephTestCluster.isConfigured), .serialized)
struct NodeStatsAndExpandE2ETests {
    /// `df -B1 --output=…` of `path`: the numbers of its second line.
    static func df(_ path: String, _ fields: String) async throws -> [Int64] {
        let output = try await CephTestCluster.runner.runChecked(Command("df", ["-B1", "--output=\(fields)", path], timeout: .seconds(10))).standardOutput
        return output.split(separator: "\n").dropFirst().first?.split(separator: " ").compactMap { Int64($0) } ?? []
    }

    @Test(arguments: [("ext4", 64, 128), ("xfs", 320, 400)])
    func statsMatchDfAndExpandGrowsTheFilesystem(fsType: String, fromMiB: Int, toMiB: Int) async throws {
        let image = try await CephTestCluster.createImage(sizeMiB: fromMiB)
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: image)
            let capability = CephTestCluster.mountCapability(fsType: fsType)
            _ = try await node.nodeStageVolume(paths.stageRequest(capability))
            _ = try await node.nodePublishVolume(paths.publishRequest(capability, target: "a"))
            let target = paths.target("a")

            let stats = try await node.nodeGetVolumeStats(.with { $0.volumeID = image; $0.volumePath = target })
            let bytes = try #require(stats.usage.first { $0.unit == .bytes })
            let inodes = try #require(stats.usage.first { $0.unit == .inodes })
            #expect(try await Self.df(target, "size,used,avail") == [bytes.total, bytes.used, bytes.available])
            #expect(try await Self.df(target, "itotal,iused,iavail") == [inodes.total, inodes.used, inodes.available])
            #expect(stats.volumeCondition.abnormal == false)

            try await CephTestCluster.rbd(["resize", "--size", "\(toMiB)", "\(CephTestCluster.pool)/\(image)"])
            if fsType == "ext4" && !Capabilities.hasSysResource {
                // Online ext4 growth needs CAP_SYS_RESOURCE, which this VM's root lacks:
                // the failure must then be a clear INTERNAL naming resize2fs.
                do {
                    _ = try await node.nodeExpandVolume(.with { $0.volumeID = image; $0.volumePath = target })
                    Issue.record("resize2fs succeeded without CAP_SYS_RESOURCE")
                } catch let error as RPCError {
                    #expect(error.code == .internalError)
                    #expect(error.message.contains("resize2fs"))
                }
            } else {
                let expanded = try await node.nodeExpandVolume(.with { $0.volumeID = image; $0.volumePath = target })
                #expect(expanded.capacityBytes == Int64(toMiB) << 20)
                let grown = try await Self.df(target, "size")
                #expect(grown.first ?? 0 > bytes.total + (Int64(toMiB - fromMiB) << 20) / 2)
            }

            // Unmounted behind the plugin's back: abnormal, not an error.
            try await CephTestCluster.runner.runChecked(Command("umount", [target], timeout: .seconds(30)))
            let broken = try await node.nodeGetVolumeStats(.with { $0.volumeID = image; $0.volumePath = target })
            #expect(broken.volumeCondition.abnormal)
            #expect(broken.volumeCondition.message.contains("not a mount point"))

            _ = try await node.nodeUnpublishVolume(paths.unpublishRequest(target: "a"))
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    /// An image that grew while unstaged (a resize, or a clone or restore to a larger size) is
    /// grown on the next stage: ext4 unmounted (no CAP_SYS_RESOURCE needed), xfs mounted.
    @Test(arguments: [("ext4", 64, 160), ("xfs", 320, 480)])
    func filesystemGrowsOnStageAfterTheImageGrew(fsType: String, fromMiB: Int, toMiB: Int) async throws {
        let image = try await CephTestCluster.createImage(sizeMiB: fromMiB)
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: image)
            let capability = CephTestCluster.mountCapability(fsType: fsType)
            _ = try await node.nodeStageVolume(paths.stageRequest(capability))
            let before = try #require(try await Self.df(paths.stagedPath, "size").first)
            try "kept across the resize\n".write(toFile: paths.stagedPath + "/marker", atomically: false, encoding: .utf8)
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)

            try await CephTestCluster.rbd(["resize", "--size", "\(toMiB)", "\(CephTestCluster.pool)/\(image)"])
            _ = try await node.nodeStageVolume(paths.stageRequest(capability))
            let after = try #require(try await Self.df(paths.stagedPath, "size").first)
            #expect(after > before + (Int64(toMiB - fromMiB) << 20) * 3 / 4, "\(before) → \(after)")
            #expect(try String(contentsOfFile: paths.stagedPath + "/marker", encoding: .utf8) == "kept across the resize\n")

            // Staged again without a resize: nothing to grow, same size.
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            _ = try await node.nodeStageVolume(paths.stageRequest(capability))
            #expect(try await Self.df(paths.stagedPath, "size").first == after)
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    @Test func blockStatsReportTheDeviceSize() async throws {
        let image = try await CephTestCluster.createImage(sizeMiB: 24)
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: image)
            let capability = CephTestCluster.blockCapability()
            _ = try await node.nodeStageVolume(paths.stageRequest(capability))
            _ = try await node.nodePublishVolume(paths.publishRequest(capability, target: "dev"))
            let stats = try await node.nodeGetVolumeStats(.with { $0.volumeID = image; $0.volumePath = paths.target("dev") })
            #expect(stats.usage.first?.total == 24 << 20)
            _ = try await node.nodeUnpublishVolume(paths.unpublishRequest(target: "dev"))
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
        }
    }
}

/// The effective capabilities of this process, from /proc/self/status.
enum Capabilities {
    static var hasSysResource: Bool {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let mask = UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return false }
        return mask & (1 << 24) != 0  // CAP_SYS_RESOURCE
    }
}
