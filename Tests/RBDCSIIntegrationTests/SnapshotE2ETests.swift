import CSIProtocol
import CephAccess
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Testing

@testable import CSIServices

/// Snapshots, restores and clones (issue 11) against real Ceph: the data they carry, the
/// snapshot journal as ceph-csi writes it, clone-depth limits, and deletion in every order
/// leaving nothing behind.
@Suite("Snapshots and clones against real Ceph (issue 11)", .enabled(if: CephTestCluster.isConfigured), .serialized)
struct SnapshotE2ETests {
    typealias Controller = Csi_V1_Controller.Client<HTTP2ClientTransport.Posix>
    static let admin = ControllerE2ETests.admin
    static var pool: String { CephTestCluster.pool }

    static func createVolume(
        _ controller: Controller, bytes: Int64 = 64 << 20, source: Csi_V1_VolumeContentSource? = nil, aborted: ((Int) -> Void)? = nil
    ) async throws -> Csi_V1_Volume {
        var request = ControllerE2ETests.createRequest("pvc-\(UUID().uuidString.lowercased())", bytes: bytes, parameters: ["imageFeatures": "layering"])
        if let source { request.volumeContentSource = source }
        // A clone whose source chain is being flattened answers ABORTED until it is done.
        return try await retryingAborted(aborted) { try await controller.createVolume(request).volume }
    }

    static func snapshot(_ controller: Controller, of volumeID: String, name: String = "snapshot-\(UUID().uuidString.lowercased())") async throws -> Csi_V1_Snapshot {
        try await retryingAborted {
            try await controller.createSnapshot(.with {
                $0.name = name
                $0.sourceVolumeID = volumeID
                $0.parameters = ["clusterID": CephTestCluster.clusterID, "pool": pool]
                $0.secrets = admin
            }).snapshot
        }
    }

    /// `body` until it answers other than ABORTED; `aborted` learns how many times it did.
    static func retryingAborted<R>(_ aborted: ((Int) -> Void)? = nil, _ body: () async throws -> R) async throws -> R {
        let deadline = ContinuousClock.now + .seconds(120)
        var count = 0
        while true {
            do {
                let result = try await body()
                aborted?(count)
                return result
            } catch let error as RPCError where error.code == .aborted && ContinuousClock.now < deadline {
                count += 1
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    static func deleteVolume(_ controller: Controller, _ id: String) async throws {
        _ = try await controller.deleteVolume(.with { $0.volumeID = id; $0.secrets = admin })
    }

    static func deleteSnapshot(_ controller: Controller, _ id: String) async throws {
        _ = try await controller.deleteSnapshot(.with { $0.snapshotID = id; $0.secrets = admin })
    }

    static func fromSnapshot(_ id: String) -> Csi_V1_VolumeContentSource { .with { $0.snapshot.snapshotID = id } }
    static func fromVolume(_ id: String) -> Csi_V1_VolumeContentSource { .with { $0.volume.volumeID = id } }

    /// What of `uuids` is still in the pool: images, trash entries, journal objects and keys.
    static func remains(of uuids: [String]) async throws -> [String] {
        let images = try await CephTestCluster.rbd(["ls", pool]).split(separator: "\n").map(String.init)
        let trash = try await CephTestCluster.rbd(["trash", "ls", "--all", pool]).split(separator: "\n").map(String.init)
        let objects = try await CephTestCluster.rados(["-p", pool, "ls"]).split(separator: "\n").map(String.init)
        let volumeKeys = try await ControllerE2ETests.omap("csi.volumes.default").map { "\($0.key)=\($0.value)" }
        let snapshotKeys = (try? await ControllerE2ETests.omap("csi.snaps.default"))?.map { "\($0.key)=\($0.value)" } ?? []
        let everything = images.map { "image " + $0 } + trash.map { "trash " + $0 } + objects.map { "object " + $0 }
            + volumeKeys.map { "volume key " + $0 } + snapshotKeys.map { "snapshot key " + $0 }
        return everything.filter { line in uuids.contains { line.contains($0) } }
    }

    static func uuid(_ id: String) throws -> String { try CSIVolumeID(decoding: id).objectUUID }

    /// Stages `volume` with rbd-fuse, runs `body` with its mounted path, then unstages it.
    static func staged<R>(_ plugin: TestPlugin, _ client: GRPCClient<HTTP2ClientTransport.Posix>, _ volume: Csi_V1_Volume, _ body: (String) throws -> R) async throws -> R {
        let node = Csi_V1_Node.Client(wrapping: client)
        let paths = try VolumePaths(plugin: plugin, volumeID: volume.volumeID)
        var stage = paths.stageRequest(CephTestCluster.mountCapability(), context: volume.volumeContext)
        stage.secrets = CephTestCluster.secrets
        _ = try await node.nodeStageVolume(stage)
        let result = Result { try body(paths.stagedPath) }
        _ = try await node.nodeUnstageVolume(paths.unstageRequest)
        return try result.get()
    }

    static func write(_ data: Data, to path: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path) ?? { _ = FileManager.default.createFile(atPath: path, contents: nil); return FileHandle(forWritingAtPath: path) }())
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: data)
        try handle.synchronize()
        try handle.close()
        sync()
    }

    static func randomData(_ count: Int) -> Data { Data((0..<count).map { _ in UInt8.random(in: 0...255) }) }

    /// Write, snapshot, change; the restore has the old data (grown at stage when larger), the
    /// clone the new, even with their source volume and snapshot deleted first; then
    /// everything is deleted and nothing is left in the pool.
    @Test func restoreHasTheSnapshotsDataAndCloneTheVolumes() async throws {
        try await TestPlugin.run { plugin, client in
            let controller = Csi_V1_Controller.Client(wrapping: client)
            let volume = try await Self.createVolume(controller)
            let before = Self.randomData(3 << 20)
            let after = Self.randomData(3 << 20)
            try await Self.staged(plugin, client, volume) { path in try Self.write(before, to: path + "/data") }
            let snapshot = try await Self.snapshot(controller, of: volume.volumeID)
            #expect(snapshot.readyToUse)
            #expect(snapshot.sizeBytes == 64 << 20)
            #expect(snapshot.sourceVolumeID == volume.volumeID)
            #expect(abs(Double(snapshot.creationTime.seconds) - Date().timeIntervalSince1970) < 120)
            try await Self.staged(plugin, client, volume) { path in try Self.write(after, to: path + "/data") }

            // Restored larger, and cloned; then the source volume and the snapshot are deleted
            // before either copy is read: neither depends on them being there.
            let restored = try await Self.createVolume(controller, bytes: 160 << 20, source: Self.fromSnapshot(snapshot.snapshotID))
            #expect(restored.capacityBytes == 160 << 20)
            #expect(restored.contentSource.snapshot.snapshotID == snapshot.snapshotID)
            let clone = try await Self.createVolume(controller, source: Self.fromVolume(volume.volumeID))
            #expect(clone.contentSource.volume.volumeID == volume.volumeID)
            // A restore smaller than its snapshot, or from nothing, is refused.
            #expect(await code { _ = try await Self.createVolume(controller, bytes: 32 << 20, source: Self.fromSnapshot(snapshot.snapshotID)) } == .invalidArgument)
            #expect(await code { _ = try await Self.createVolume(controller, source: Self.fromSnapshot(volume.volumeID)) } == .notFound)
            #expect(await code { _ = try await Self.createVolume(controller, source: Self.fromVolume(snapshot.snapshotID)) } == .notFound)
            try await Self.deleteVolume(controller, volume.volumeID)
            try await Self.deleteSnapshot(controller, snapshot.snapshotID)

            // The restore: the old data, and a filesystem grown to the new size at stage.
            let (restoredData, restoredSize) = try await Self.staged(plugin, client, restored) { path in
                (try Data(contentsOf: URL(fileURLWithPath: path + "/data")), try FileManager.default.attributesOfFileSystem(forPath: path)[.systemSize] as? Int ?? 0)
            }
            #expect(restoredData == before, "the restore holds the data at snapshot time")
            #expect(restoredSize > 140 << 20, "filesystem grown at stage: \(restoredSize)")
            let clonedData = try await Self.staged(plugin, client, clone) { path in try Data(contentsOf: URL(fileURLWithPath: path + "/data")) }
            #expect(clonedData == after, "the clone holds the volume's current data")

            for id in [restored.volumeID, clone.volumeID] { try await Self.deleteVolume(controller, id) }
            let uuids = try [volume.volumeID, restored.volumeID, clone.volumeID, snapshot.snapshotID].map(Self.uuid)
            #expect(try await Self.remains(of: uuids) == [])
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    /// A volume and snapshot made the ceph-csi way (its journal keys and rbd steps) are
    /// restored, cloned and deleted by this controller: the restore holds the data.
    @Test func snapshotTakenTheCephCSIWayIsRestoredAndDeleted() async throws {
        let journal = CephCSIJournal()
        let provisioned = try await journal.provision(clusterID: CephTestCluster.clusterID, sizeMiB: 32)
        try await TestPlugin.run { plugin, client in
            let controller = Csi_V1_Controller.Client(wrapping: client)
            let source = Csi_V1_Volume.with {
                $0.volumeID = provisioned.volumeID
                $0.volumeContext = ["clusterID": CephTestCluster.clusterID, "pool": Self.pool, "mounter": "rbd-fuse", "imageName": provisioned.image]
            }
            let data = Self.randomData(1 << 20)
            try await Self.staged(plugin, client, source) { path in try Self.write(data, to: path + "/data") }
            let snapshot = try await journal.snapshot(of: provisioned, clusterID: CephTestCluster.clusterID)
            let restored = try await Self.createVolume(controller, bytes: 32 << 20, source: Self.fromSnapshot(snapshot.snapshotID))
            #expect(try await Self.staged(plugin, client, restored) { path in try Data(contentsOf: URL(fileURLWithPath: path + "/data")) } == data)
            // Its snapshot name is taken: a repeat for the same source is idempotent.
            let again = try await Self.snapshot(controller, of: provisioned.volumeID, name: snapshot.requestName)
            #expect(again.snapshotID == snapshot.snapshotID)
            try await Self.deleteSnapshot(controller, snapshot.snapshotID)
            try await Self.deleteVolume(controller, provisioned.volumeID)
            try await Self.deleteVolume(controller, restored.volumeID)
            #expect(try await Self.remains(of: [provisioned.uuid, snapshot.uuid, try Self.uuid(restored.volumeID)]) == [])
        }
    }

    /// The snapshot journal and images, key for key as ceph-csi v3.12 writes them, and the
    /// idempotency and error codes of CreateSnapshot and DeleteSnapshot.
    @Test func snapshotJournalIsCephCSIsAndCallsAreIdempotent() async throws {
        try await TestPlugin.run { _, client in
            let controller = Csi_V1_Controller.Client(wrapping: client)
            var request = ControllerE2ETests.createRequest("pvc-\(UUID().uuidString.lowercased())", bytes: 32 << 20, parameters: [
                "imageFeatures": "layering", "csi.storage.k8s.io/pvc/namespace": "team-b",
            ])
            let volume = try await controller.createVolume(request).volume
            let volumeUUID = try Self.uuid(volume.volumeID)
            let name = "snapshot-\(UUID().uuidString.lowercased())"
            let snapshot = try await Self.snapshot(controller, of: volume.volumeID, name: name)
            let id = try CSIVolumeID(decoding: snapshot.snapshotID)
            #expect(id.clusterID == CephTestCluster.clusterID)
            #expect(id.poolID == (try await CephCSIJournal().poolID()))
            let image = "csi-snap-\(id.objectUUID)"
            let info = try #require(try await ControllerE2ETests.imageInfo(image))
            #expect(try await ControllerE2ETests.omap("csi.snaps.default")["csi.snap.\(name)"] == id.objectUUID)
            #expect(try await ControllerE2ETests.omap("csi.snap.\(id.objectUUID)") == [
                "csi.snapname": name, "csi.imagename": image, "csi.source": "csi-vol-\(volumeUUID)",
                "csi.imageid": info["id"] as? String ?? "?", "csi.volume.owner": "team-b",
            ])
            // The snapshot image: a clone of the volume with the helper features, holding one
            // snapshot of its own name; the volume keeps only a trashed snapshot.
            // (`operations`: librbd's mark of a clone-format-2 child, not a requested feature.)
            #expect((info["features"] as? [String])?.filter { $0 != "operations" }.sorted() == ["deep-flatten", "layering"])
            let parent = try #require(info["parent"] as? [String: Any])
            #expect(parent["image"] as? String == "csi-vol-\(volumeUUID)")
            #expect(try await CephTestCluster.rbd(["snap", "ls", "\(Self.pool)/\(image)"]).contains(image))
            let sourceSnaps = try await CephTestCluster.rbd(["snap", "ls", "--all", "--format", "json", "\(Self.pool)/csi-vol-\(volumeUUID)"])
            let namespaces = try #require(try JSONSerialization.jsonObject(with: Data(sourceSnaps.utf8)) as? [[String: Any]])
            #expect(namespaces.map { ($0["namespace"] as? [String: Any])?["type"] as? String } == ["trash"])

            // Idempotent by name; the same name for another source is ALREADY_EXISTS.
            let again = try await Self.snapshot(controller, of: volume.volumeID, name: name)
            #expect(again.snapshotID == snapshot.snapshotID)
            #expect(again.sourceVolumeID == volume.volumeID)
            request.name = "pvc-\(UUID().uuidString.lowercased())"
            let other = try await controller.createVolume(request).volume
            #expect(await code { _ = try await Self.snapshot(controller, of: other.volumeID, name: name) } == .alreadyExists)
            // A missing source is NOT_FOUND; bad input INVALID_ARGUMENT.
            let missing = try CSIVolumeID(clusterID: CephTestCluster.clusterID, poolID: id.poolID, objectUUID: UUID().uuidString.lowercased()).encoded()
            #expect(await code { _ = try await Self.snapshot(controller, of: missing) } == .notFound)
            #expect(await code { _ = try await Self.snapshot(controller, of: "") } == .invalidArgument)
            #expect(await code { _ = try await Self.snapshot(controller, of: volume.volumeID, name: "") } == .invalidArgument)
            #expect(await code { try await Self.deleteSnapshot(controller, "") } == .invalidArgument)

            // Deleted twice, or an unknown id: OK. A volume id is not a snapshot id.
            try await Self.deleteSnapshot(controller, volume.volumeID)
            #expect(try await ControllerE2ETests.imageInfo("csi-vol-\(volumeUUID)") != nil)
            try await Self.deleteSnapshot(controller, snapshot.snapshotID)
            try await Self.deleteSnapshot(controller, snapshot.snapshotID)
            try await Self.deleteSnapshot(controller, "no-such-snapshot")
            try await Self.deleteVolume(controller, volume.volumeID)
            try await Self.deleteVolume(controller, other.volumeID)
            #expect(try await Self.remains(of: [volumeUUID, id.objectUUID, try Self.uuid(other.volumeID)]) == [])
        }
    }

    /// Encrypted sources: the snapshot, the restore and the clone each get the source's key
    /// sealed again for their own id (so each opens under its id only), the source's
    /// encryption state and its journal keys; an unencrypted restore of it is refused.
    @Test func encryptedCopiesGetTheKeySealedForTheirOwnID() async throws {
        try await TestPlugin.run(kmsConfig: #"{"meta": {"encryptionKMSType": "metadata"}}"#) { _, client in
            let controller = Csi_V1_Controller.Client(wrapping: client)
            let passphrase = "snapshot passphrase"
            var request = ControllerE2ETests.createRequest("pvc-\(UUID().uuidString.lowercased())", bytes: 16 << 20, parameters: [
                "imageFeatures": "layering", "encrypted": "true", "encryptionKMSID": "meta",
            ])
            request.secrets["encryptionPassphrase"] = passphrase
            let volume = try await controller.createVolume(request).volume
            let volumeImage = "\(Self.pool)/csi-vol-\(try Self.uuid(volume.volumeID))"
            // As after the node's first stage: LUKS formatted.
            try await CephTestCluster.rbd(["image-meta", "set", volumeImage, "rbd.csi.ceph.com/encrypted", "encrypted"])
            func dek(_ image: String, id: String) async throws -> String {
                try await ControllerE2ETests.openKey(of: image, volumeID: id, passphrase: passphrase)
            }
            let key = try await dek(volumeImage, id: volume.volumeID)

            // Without the passphrase the key cannot be copied: INVALID_ARGUMENT before anything is made.
            let imagesBefore = try await CephTestCluster.rbd(["ls", Self.pool])
            #expect(await code { _ = try await Self.snapshot(controller, of: volume.volumeID) } == .invalidArgument)
            #expect(try await CephTestCluster.rbd(["ls", Self.pool]) == imagesBefore)
            #expect(try await CephTestCluster.rbd(["snap", "ls", "--all", volumeImage]).isEmpty)
            let snapshot = try await controller.createSnapshot(.with {
                $0.name = "snapshot-\(UUID().uuidString.lowercased())"
                $0.sourceVolumeID = volume.volumeID
                $0.parameters = ["clusterID": CephTestCluster.clusterID]
                $0.secrets = Self.admin.merging(["encryptionPassphrase": passphrase]) { $1 }
            }).snapshot
            let snapshotUUID = try Self.uuid(snapshot.snapshotID)
            let snapshotImage = "\(Self.pool)/csi-snap-\(snapshotUUID)"
            #expect(try await dek(snapshotImage, id: snapshot.snapshotID) == key)
            #expect(await code { _ = try await dek(snapshotImage, id: volume.volumeID) } != nil, "sealed for the snapshot id only")
            let entry = try await ControllerE2ETests.omap("csi.snap.\(snapshotUUID)")
            #expect(entry["csi.volume.encryptKMS"] == "meta")
            #expect(entry["csi.volume.encryptionType"] == "block")

            var restoreRequest = request
            restoreRequest.name = "pvc-\(UUID().uuidString.lowercased())"
            restoreRequest.volumeContentSource = Self.fromSnapshot(snapshot.snapshotID)
            let restored = try await controller.createVolume(restoreRequest).volume
            let restoredImage = "\(Self.pool)/csi-vol-\(try Self.uuid(restored.volumeID))"
            #expect(try await dek(restoredImage, id: restored.volumeID) == key)
            #expect(try await CephTestCluster.rbd(["image-meta", "get", restoredImage, "rbd.csi.ceph.com/encrypted"]).hasPrefix("encrypted"))

            var cloneRequest = restoreRequest
            cloneRequest.name = "pvc-\(UUID().uuidString.lowercased())"
            cloneRequest.volumeContentSource = Self.fromVolume(volume.volumeID)
            let clone = try await controller.createVolume(cloneRequest).volume
            #expect(try await dek("\(Self.pool)/csi-vol-\(try Self.uuid(clone.volumeID))", id: clone.volumeID) == key)

            var plain = ControllerE2ETests.createRequest("pvc-\(UUID().uuidString.lowercased())", bytes: 16 << 20)
            plain.volumeContentSource = Self.fromSnapshot(snapshot.snapshotID)
            #expect(await code { _ = try await controller.createVolume(plain) } == .invalidArgument)

            for id in [restored.volumeID, clone.volumeID, volume.volumeID] { try await Self.deleteVolume(controller, id) }
            try await Self.deleteSnapshot(controller, snapshot.snapshotID)
            let uuids = try [volume.volumeID, restored.volumeID, clone.volumeID, snapshot.snapshotID].map(Self.uuid)
            #expect(try await Self.remains(of: uuids) == [])
        }
    }

    /// A volume, its snapshot, a restore and a clone, deleted in several orders: whatever the
    /// order, nothing of them is left in the pool (image, snapshot, trash entry, omap key).
    @Test(arguments: [["volume", "snapshot", "restore", "clone"], ["clone", "restore", "snapshot", "volume"],
                      ["snapshot", "volume", "clone", "restore"], ["restore", "clone", "volume", "snapshot"],
                      ["volume", "clone", "snapshot", "restore"]])
    func deletingInAnyOrderLeavesNothing(order: [String]) async throws {
        try await TestPlugin.run { _, client in
            let controller = Csi_V1_Controller.Client(wrapping: client)
            let volume = try await Self.createVolume(controller, bytes: 16 << 20)
            let snapshot = try await Self.snapshot(controller, of: volume.volumeID)
            let restore = try await Self.createVolume(controller, bytes: 16 << 20, source: Self.fromSnapshot(snapshot.snapshotID))
            let clone = try await Self.createVolume(controller, bytes: 16 << 20, source: Self.fromVolume(volume.volumeID))
            let ids = ["volume": volume.volumeID, "snapshot": snapshot.snapshotID, "restore": restore.volumeID, "clone": clone.volumeID]
            // Five images (with the clone's temporary one), five journal objects and keys.
            #expect(try await Self.remains(of: try ids.values.map(Self.uuid)).count >= 15)
            for what in order {
                if what == "snapshot" {
                    try await Self.deleteSnapshot(controller, snapshot.snapshotID)
                } else {
                    try await Self.deleteVolume(controller, ids[what]!)
                }
                // What is not deleted yet still works: a restore or clone keeps its data source.
                for (other, id) in ids where other != "snapshot" && !order.prefix(through: order.firstIndex(of: what)!).contains(other) {
                    #expect(try await ControllerE2ETests.imageInfo("csi-vol-\(try Self.uuid(id))") != nil, "\(other) survives deleting \(what)")
                }
            }
            #expect(try await Self.remains(of: try ids.values.map(Self.uuid)) == [], "order \(order)")
        }
    }

    /// Ten clones, each of the one before: every chain stays within the hard depth limit. With
    /// the defaults the manager flattens in the background as the soft limit is passed; with a
    /// hard limit of 3, every clone of a clone first waits (ABORTED) for its flatten.
    @Test(arguments: [(8, 4), (3, 3)])
    func chainOfTenClonesStaysWithinTheDepthLimit(hard: Int, soft: Int) async throws {
        let limits = try CloneLimits(hardDepth: hard, softDepth: soft)
        try await TestPlugin.run(cloneLimits: limits) { _, client in
            let controller = Csi_V1_Controller.Client(wrapping: client)
            var volumes = [try await Self.createVolume(controller, bytes: 16 << 20)]
            var abortedTotal = 0
            for _ in 1...10 {
                let source = Self.fromVolume(volumes.last!.volumeID)
                volumes.append(try await Self.createVolume(controller, bytes: 16 << 20, source: source) { abortedTotal += $0 })
            }
            for volume in volumes {
                let depth = try await Self.depth(of: "csi-vol-\(try Self.uuid(volume.volumeID))")
                #expect(depth <= hard, "depth \(depth)")
            }
            if hard == 3 { #expect(abortedTotal >= 9, "each clone of a clone waited for a flatten: \(abortedTotal)") }
            for volume in volumes.reversed() { try await Self.deleteVolume(controller, volume.volumeID) }
            #expect(try await Self.remains(of: try volumes.map { try Self.uuid($0.volumeID) }) == [])
        }
    }

    /// The parent links above `image`, followed by id through trashed parents (`rbd info`).
    static func depth(of image: String) async throws -> Int {
        var arguments = ["info", "--format", "json", "\(pool)/\(image)"]
        var depth = 0
        while depth < 64 {
            let text = try await CephTestCluster.rbd(arguments)
            let info = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            guard let parent = info["parent"] as? [String: Any], let id = parent["id"] as? String else { return depth }
            depth += 1
            arguments = ["info", "--format", "json", "--pool", parent["pool"] as? String ?? pool, "--image-id", id]
        }
        return depth
    }
}
