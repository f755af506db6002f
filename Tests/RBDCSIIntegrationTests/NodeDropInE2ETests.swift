import CSIProtocol
import Foundation
import GRPCCore
import HostOperations
import Testing

/// ceph-csi drop-in behaviour of the node (issue 12) against real Ceph with rbd-fuse.
@Suite("Node as a ceph-csi drop-in against real Ceph (issue 12)", .enabled(if: CephTestCluster.isConfigured), .serialized)
struct NodeDropInE2ETests {
    /// A blank static volume is formatted as ceph-csi formats it (no formatStaticVolume key
    /// needed); `formatStaticVolume=false` refuses it; a static image holding a partition table
    /// is never formatted, and nothing of the attempt stays.
    @Test func blankStaticVolumesAreFormattedAndPartitionedOnesRefused() async throws {
        let blank = try await CephTestCluster.createImage(sizeMiB: 64)
        let partitioned = try await Self.imageWithPartitionTable()
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let capability = CephTestCluster.mountCapability()
            var context = CephTestCluster.context()
            context["formatStaticVolume"] = nil

            let refusing = try VolumePaths(plugin: plugin, volumeID: blank)
            #expect(await code {
                _ = try await node.nodeStageVolume(refusing.stageRequest(capability, context: context.merging(["formatStaticVolume": "false"]) { $1 }))
            } == .failedPrecondition)
            #expect(!refusing.stashExists)

            let paths = try VolumePaths(plugin: plugin, volumeID: blank)
            _ = try await node.nodeStageVolume(paths.stageRequest(capability, context: context))
            #expect(try SystemMountTableProbe.entry(paths.stagedPath)?.fsType == "ext4")
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)

            let other = try VolumePaths(plugin: plugin, volumeID: partitioned)
            #expect(await code { _ = try await node.nodeStageVolume(other.stageRequest(capability, context: context)) } == .failedPrecondition)
            #expect(!other.stashExists)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
        // The partition table is still there: nothing was written to the image.
        let header = try await Self.firstSector(of: partitioned)
        #expect(header[510] == 0x55 && header[511] == 0xAA && header[450] == 0x83)
    }

    /// An in-tree migrated volume, as Kubernetes' CSI migration hands it over: the volume id
    /// is the `mig_mons-<hash>_image-<uuid>_<hex pool>` handle, the context says staticVolume,
    /// migration, imageName (`kubernetes-dynamic-pvc-<uuid>`), pool, and clusterID (the monitors'
    /// hash, a config entry), the secrets are the in-tree `adminId` and `key`.
    @Test func inTreeMigratedVolumeIsStagedAsCephCSIStagesIt() async throws {
        let uuid = UUID().uuidString.lowercased()
        let image = "kubernetes-dynamic-pvc-\(uuid)"
        try await CephTestCluster.rbd(["create", "--size", "32", "\(CephTestCluster.pool)/\(image)"])
        let hash = "7d4f6ae2b1c3e4f5a6b7c8d9e0f1a2b3"
        let poolHex = CephTestCluster.pool.utf8.map { String(format: "%02x", $0) }.joined()
        let volumeID = "mig_mons-\(hash)_image-\(uuid)_\(poolHex)"
        try await TestPlugin.run(extraClusters: [.init(clusterID: hash)]) { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: volumeID)
            var stage = paths.stageRequest(CephTestCluster.mountCapability(), context: [
                "staticVolume": "true", "migration": "true", "imageName": image, "pool": CephTestCluster.pool, "clusterID": hash, "mounter": "rbd-fuse",
            ])
            stage.secrets = ["adminId": CephTestCluster.secrets["userID"]!, "key": CephTestCluster.secrets["userKey"]!]
            _ = try await node.nodeStageVolume(stage)
            #expect(try SystemMountTableProbe.entry(paths.stagedPath)?.fsType == "ext4")
            #expect(try String(contentsOfFile: paths.staging + "/image-meta.json", encoding: .utf8).contains(image))
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            // Without imageName a migrated volume cannot be found: INVALID_ARGUMENT.
            stage.volumeContext["imageName"] = nil
            #expect(await code { _ = try await node.nodeStageVolume(stage) } == .invalidArgument)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
        try await CephTestCluster.rbd(["rm", "\(CephTestCluster.pool)/\(image)"])
    }

    /// The cluster config's `rbd.netNamespaceFilePath`: the map runs through `nsenter --net=`
    /// (here the plugin's own namespace, `/proc/self/ns/net`, the only one from which this test's
    /// monitor on 127.0.0.1 is reachable; the argv is pinned in MapperCommandLineTests); a path
    /// that does not exist is FAILED_PRECONDITION before anything is mapped.
    @Test func mapsRunInTheConfiguredNetworkNamespace() async throws {
        let image = try await CephTestCluster.createImage(sizeMiB: 32)
        let clusters: [CephTestCluster.ConfigEntry] = [
            .init(clusterID: "netns-host", netNamespaceFilePath: "/proc/self/ns/net"),
            .init(clusterID: "netns-missing", netNamespaceFilePath: "/var/run/netns/rbdcsi-no-such-namespace"),
        ]
        try await TestPlugin.run(extraClusters: clusters) { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let capability = CephTestCluster.mountCapability()
            let missing = try VolumePaths(plugin: plugin, volumeID: image)
            #expect(await code {
                _ = try await node.nodeStageVolume(missing.stageRequest(capability, context: CephTestCluster.context(extra: ["clusterID": "netns-missing"])))
            } == .failedPrecondition)
            #expect(!missing.stashExists)
            let paths = try VolumePaths(plugin: plugin, volumeID: image)
            _ = try await node.nodeStageVolume(paths.stageRequest(capability, context: CephTestCluster.context(extra: ["clusterID": "netns-host"])))
            #expect(try SystemMountTableProbe.entry(paths.stagedPath)?.fsType == "ext4")
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    /// A 4 MiB image whose first sector is an MBR with one Linux partition.
    static func imageWithPartitionTable() async throws -> String {
        var data = Data(count: 4 << 20)
        data[450] = 0x83  // partition type: Linux
        for (offset, value) in [(454, UInt32(2048)), (458, UInt32(4096))] {
            withUnsafeBytes(of: value.littleEndian) { bytes in for (index, byte) in bytes.enumerated() { data[offset + index] = byte } }
        }
        data[510] = 0x55
        data[511] = 0xAA
        let file = NSTemporaryDirectory() + "mbr-\(UUID().uuidString.prefix(8))"
        try data.write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let name = "e2e-mbr-\(UUID().uuidString.prefix(8).lowercased())"
        try await CephTestCluster.rbd(["import", file, "\(CephTestCluster.pool)/\(name)"])
        return name
    }

    static func firstSector(of image: String) async throws -> [UInt8] {
        let file = NSTemporaryDirectory() + "export-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await CephTestCluster.rbd(["export", "\(CephTestCluster.pool)/\(image)", file])
        return Array(try Data(contentsOf: URL(fileURLWithPath: file)).prefix(512))
    }
}
