import CSIProtocol
import CephAccess
import Foundation
import GRPCCore
import HostOperations
import Testing

/// Volumes provisioned by a ceph-csi compatible controller: journal entries written the way
/// ceph-csi writes them, found by the encoded volume id through librados, against real Ceph.
@Suite("Journal-based volume ids against real Ceph", .enabled(if: CephTestCluster.isConfigured), .serialized)
struct JournalVolumeE2ETests {
    static let namespaceCluster = CephTestCluster.ConfigEntry(clusterID: "e2e-ns-cluster", radosNamespace: "e2e-ns")

    /// The volume context the external-provisioner passes for a dynamically provisioned volume.
    static func context(clusterID: String) -> [String: String] {
        ["clusterID": clusterID, "pool": CephTestCluster.pool, "mounter": "rbd-fuse", "imageFeatures": "layering"]
    }

    @Test(arguments: ["", "e2e-ns"])
    func provisionedVolumeLifecycleKeepsDataAcrossRestage(radosNamespace: String) async throws {
        let journal = CephCSIJournal(radosNamespace: radosNamespace)
        let clusterID = radosNamespace.isEmpty ? CephTestCluster.clusterID : Self.namespaceCluster.clusterID
        if !radosNamespace.isEmpty { try await journal.createNamespace() }
        let volume = try await journal.provision(clusterID: clusterID)
        try await TestPlugin.run(extraClusters: [Self.namespaceCluster]) { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: volume.volumeID)
            let capability = CephTestCluster.mountCapability()
            let stage = paths.stageRequest(capability, context: Self.context(clusterID: clusterID))

            // A blank provisioned volume is formatted (it is not static).
            _ = try await node.nodeStageVolume(stage)
            let staged = try #require(try SystemMountTableProbe.entry(paths.stagedPath))
            #expect(staged.fsType == "ext4")
            let stash = try String(contentsOfFile: paths.staging + "/image-meta.json", encoding: .utf8)
            #expect(stash.contains(volume.image))
            #expect(stash.contains("\"radosNamespace\":\"\(radosNamespace)\""))

            _ = try await node.nodePublishVolume(paths.publishRequest(capability, target: "pod"))
            try "written to \(volume.requestName)\n".write(toFile: paths.target("pod") + "/marker", atomically: false, encoding: .utf8)
            _ = try await node.nodeUnpublishVolume(paths.unpublishRequest(target: "pod"))
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)

            // Staged again: the same image (found through the journal), not formatted twice.
            _ = try await node.nodeStageVolume(stage)
            _ = try await node.nodePublishVolume(paths.publishRequest(capability, target: "pod"))
            #expect(try String(contentsOfFile: paths.target("pod") + "/marker", encoding: .utf8) == "written to \(volume.requestName)\n")
            _ = try await node.nodeUnpublishVolume(paths.unpublishRequest(target: "pod"))
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
        // The filesystem really is on the journal's image.
        let spec = radosNamespace.isEmpty ? "\(CephTestCluster.pool)/\(volume.image)" : "\(CephTestCluster.pool)/\(radosNamespace)/\(volume.image)"
        let du = try await CephTestCluster.rbd(["du", "--format", "json", spec])
        #expect(!du.contains("\"used_size\":0"))
    }

    @Test func entryWithoutImageNameFindsTheDefaultImage() async throws {
        let volume = try await CephCSIJournal().provision(clusterID: CephTestCluster.clusterID, omitKeys: ["csi.imagename", "csi.imageid"])
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: volume.volumeID)
            _ = try await node.nodeStageVolume(paths.stageRequest(CephTestCluster.blockCapability(), context: Self.context(clusterID: CephTestCluster.clusterID)))
            #expect(HostPaths.isBlockDevice(paths.stagedPath))
            #expect(try String(contentsOfFile: paths.staging + "/image-meta.json", encoding: .utf8).contains("csi-vol-\(volume.uuid)"))
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    @Test func missingJournalPiecesAreNotFoundAndLeaveNothing() async throws {
        let journal = CephCSIJournal()
        let noName = try await journal.provision(clusterID: CephTestCluster.clusterID, omitKeys: ["csi.volname"])
        let poolID = try await journal.poolID()
        let uuid = UUID().uuidString.lowercased()
        let ids = [
            ("no csi.volname", noName.volumeID),
            ("no journal object", try CSIVolumeID(clusterID: CephTestCluster.clusterID, poolID: poolID, objectUUID: uuid).encoded()),
            ("no such pool", try CSIVolumeID(clusterID: CephTestCluster.clusterID, poolID: 4242, objectUUID: uuid).encoded()),
            ("unknown clusterID", try CSIVolumeID(clusterID: "not-configured", poolID: poolID, objectUUID: uuid).encoded()),
            ("does not decode", "0001-0009-bad-id-0000000000000001-\(uuid)"),
        ]
        let deleted = try await journal.provision(clusterID: CephTestCluster.clusterID)
        try await CephTestCluster.rbd(["rm", "--no-progress", "\(CephTestCluster.pool)/\(deleted.image)"])
        try await TestPlugin.run { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            for (what, id) in ids + [("image deleted", deleted.volumeID)] {
                let paths = try VolumePaths(plugin: plugin, volumeID: id)
                var message = ""
                do {
                    _ = try await node.nodeStageVolume(paths.stageRequest(CephTestCluster.mountCapability(), context: Self.context(clusterID: CephTestCluster.clusterID)))
                } catch let error as RPCError {
                    #expect(error.code == .notFound, "\(what): \(error)")
                    message = error.message
                }
                #expect(!message.isEmpty, "\(what): staged")
                #expect(!paths.stashExists, "\(what)")
                #expect(!FileManager.default.fileExists(atPath: paths.stagedPath), "\(what)")
            }
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    @Test func silentMonitorsFailWithinTheTimeoutInsteadOfHanging() async throws {
        let monitor = try SilentMonitor()
        let silent = CephTestCluster.ConfigEntry(clusterID: "e2e-silent", monitors: [monitor.address])
        let id = try CSIVolumeID(clusterID: silent.clusterID, poolID: 1, objectUUID: UUID().uuidString.lowercased()).encoded()
        try await TestPlugin.run(cephTimeout: .seconds(2), extraClusters: [silent]) { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: id)
            let start = ContinuousClock.now
            let result = await code {
                _ = try await node.nodeStageVolume(paths.stageRequest(CephTestCluster.mountCapability(), context: Self.context(clusterID: silent.clusterID)))
            }
            let elapsed = ContinuousClock.now - start
            #expect(result == .unavailable || result == .deadlineExceeded)
            // Connect limit (2 s) plus the backstop's grace (2 s), with room for a loaded machine.
            #expect(elapsed < .seconds(10), "took \(elapsed)")
            #expect(!paths.stashExists)
        }
        withExtendedLifetime(monitor) {}
    }

    /// A pool whose placement groups map to no OSD: every object operation blocks, as when
    /// the OSDs are down. librados' op timeout ends the journal read.
    @Test func deadOSDsFailWithinTheTimeoutInsteadOfHanging() async throws {
        let pools = try await CephTestCluster.ceph(["osd", "pool", "ls"])
        if !pools.split(separator: "\n").contains("e2e-dead") {
            try await CephTestCluster.ceph(["osd", "crush", "add-bucket", "e2e-empty", "root"])
            try await CephTestCluster.ceph(["osd", "crush", "rule", "create-replicated", "e2e-nowhere", "e2e-empty", "osd"])
            try await CephTestCluster.ceph(["osd", "pool", "create", "e2e-dead", "8", "8", "replicated", "e2e-nowhere"])
        }
        let poolID = try await CephCSIJournal(pool: "e2e-dead").poolID()
        let id = try CSIVolumeID(clusterID: CephTestCluster.clusterID, poolID: poolID, objectUUID: UUID().uuidString.lowercased()).encoded()
        try await TestPlugin.run(cephTimeout: .seconds(2)) { plugin, client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let paths = try VolumePaths(plugin: plugin, volumeID: id)
            let start = ContinuousClock.now
            var error: RPCError?
            do {
                _ = try await node.nodeStageVolume(paths.stageRequest(CephTestCluster.mountCapability(), context: Self.context(clusterID: CephTestCluster.clusterID)))
            } catch let caught as RPCError {
                error = caught
            }
            let elapsed = ContinuousClock.now - start
            #expect(error?.code == .deadlineExceeded, "\(String(describing: error))")
            #expect(error?.message.contains("csi.volume.") == true || error?.message.contains("journal") == true)
            #expect(elapsed < .seconds(10), "took \(elapsed)")
            #expect(!paths.stashExists)
        }
    }
}
