import CSIProtocol
import CephAccess
import Foundation
import GRPCCore
import HostOperations
import KubernetesAccess
import KubernetesTestSupport
import Testing

@testable import CSIServices

/// The Controller service (issue 10) against real Ceph: the journal as ceph-csi writes it,
/// idempotency, repair of interrupted reservations, and a whole lifecycle through the node.
@Suite("Controller against real Ceph (issue 10)", .enabled(if: CephTestCluster.isConfigured), .serialized)
struct ControllerE2ETests {
    static let admin = ["userID": CephTestCluster.secrets["userID"]!, "userKey": CephTestCluster.secrets["userKey"]!]

    static func createRequest(_ name: String, bytes: Int64 = 0, parameters extra: [String: String] = [:], block: Bool = false) -> Csi_V1_CreateVolumeRequest {
        .with {
            $0.name = name
            if bytes > 0 { $0.capacityRange = .with { $0.requiredBytes = bytes } }
            $0.volumeCapabilities = [block ? CephTestCluster.blockCapability() : CephTestCluster.mountCapability()]
            $0.parameters = ["clusterID": CephTestCluster.clusterID, "pool": CephTestCluster.pool, "mounter": "rbd-fuse"].merging(extra) { $1 }
            $0.secrets = admin
        }
    }

    /// The metadata KMS's key of `image` (pool/name), opened with `passphrase` for `volumeID`;
    /// scrypt runs on the blocking executor, as in the plugin (not on the cooperative pool).
    static func openKey(of image: String, volumeID: String, passphrase: String) async throws -> String {
        let sealed = try await CephTestCluster.rbd(["image-meta", "get", image, "rbd.csi.ceph.com/dek"]).trimmingCharacters(in: .whitespacesAndNewlines)
        return try await BlockingExecutor.shared.run("scrypt", limit: .seconds(120)) {
            try SealedDEK.open(sealed, passphrase: passphrase, volumeID: volumeID)
        }
    }

    static func omap(_ object: String) async throws -> [String: String] {
        let keys = try await CephTestCluster.rados(["-p", CephTestCluster.pool, "listomapkeys", object])
        var values: [String: String] = [:]
        for key in keys.split(separator: "\n").map(String.init) where !key.isEmpty {
            // Suites run in parallel: another one's key may go between the listing and the read.
            guard let value = try? await CephTestCluster.rados(["-p", CephTestCluster.pool, "getomapval", object, key, "/dev/stdout"]) else { continue }
            values[key] = value.components(separatedBy: "\n").first.map { String($0) } ?? ""
        }
        return values
    }

    static func imageInfo(_ image: String) async throws -> [String: Any]? {
        guard let text = try? await CephTestCluster.rbd(["info", "--format", "json", "\(CephTestCluster.pool)/\(image)"]) else { return nil }
        return try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    }

    @Test func createWritesTheJournalAsCephCSIDoesAndIsIdempotent() async throws {
        try await TestPlugin.run { plugin, client in
            let controller = Csi_V1_Controller.Client(wrapping: client)
            let name = "pvc-\(UUID().uuidString.lowercased())"
            let request = Self.createRequest(name, bytes: 100 << 20, parameters: [
                "imageFeatures": "layering,exclusive-lock", "csi.storage.k8s.io/pvc/namespace": "team-a", "csi.storage.k8s.io/pvc/name": "data",
            ])
            let volume = try await controller.createVolume(request).volume
            let id = try CSIVolumeID(decoding: volume.volumeID)
            #expect(id.clusterID == CephTestCluster.clusterID)
            #expect(id.poolID == (try await CephCSIJournal().poolID()))
            #expect(volume.capacityBytes == 100 << 20)  // below 1 GiB: rounded to MiB
            let image = "csi-vol-\(id.objectUUID)"
            #expect(volume.volumeContext["imageName"] == image)
            #expect(volume.volumeContext["pool"] == CephTestCluster.pool)
            #expect(volume.volumeContext["journalPool"] == CephTestCluster.pool)
            #expect(volume.volumeContext["clusterID"] == CephTestCluster.clusterID)
            #expect(volume.volumeContext["mounter"] == "rbd-fuse")
            #expect(volume.volumeContext["csi.storage.k8s.io/pvc/name"] == nil)

            // The omap, byte for byte as ceph-csi writes it.
            let directory = try await Self.omap("csi.volumes.default")
            #expect(directory["csi.volume.\(name)"] == id.objectUUID)
            let info = try #require(try await Self.imageInfo(image))
            let entry = try await Self.omap("csi.volume.\(id.objectUUID)")
            #expect(entry == [
                "csi.volname": name, "csi.imagename": image, "csi.imageid": info["id"] as? String ?? "?", "csi.volume.owner": "team-a",
            ])
            #expect(info["size"] as? Int == 100 << 20)
            #expect((info["features"] as? [String])?.sorted() == ["exclusive-lock", "layering"])

            // Idempotent by name; another size is ALREADY_EXISTS; nothing new is made.
            #expect(try await controller.createVolume(request).volume.volumeID == volume.volumeID)
            #expect(await code { _ = try await controller.createVolume(Self.createRequest(name, bytes: 2 << 30)) } == .alreadyExists)
            #expect(try await Self.omap("csi.volumes.default")["csi.volume.\(name)"] == id.objectUUID)

            _ = try await controller.deleteVolume(.with { $0.volumeID = volume.volumeID; $0.secrets = Self.admin })
            #expect(try await Self.imageInfo(image) == nil)
            #expect(try await Self.omap("csi.volumes.default")["csi.volume.\(name)"] == nil)
            #expect(try await CephTestCluster.rados(["-p", CephTestCluster.pool, "ls"]).contains("csi.volume.\(id.objectUUID)") == false)
            // Deleting again, or an id that decodes to nothing, is OK (the CSI spec).
            _ = try await controller.deleteVolume(.with { $0.volumeID = volume.volumeID; $0.secrets = Self.admin })
            _ = try await controller.deleteVolume(.with { $0.volumeID = "no-such-volume"; $0.secrets = Self.admin })
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    /// CreateVolume → stage → publish → expand → grow on stage → unstage → DeleteVolume, with
    /// a delete refused while the image is mapped.
    @Test func wholeLifecycleThroughOurControllerAndNode() async throws {
        try await TestPlugin.run { plugin, client in
            let controller = Csi_V1_Controller.Client(wrapping: client)
            let node = Csi_V1_Node.Client(wrapping: client)
            let volume = try await controller.createVolume(Self.createRequest("pvc-\(UUID().uuidString.lowercased())", bytes: 64 << 20)).volume
            let paths = try VolumePaths(plugin: plugin, volumeID: volume.volumeID)
            let capability = CephTestCluster.mountCapability()
            var stage = paths.stageRequest(capability, context: volume.volumeContext)
            stage.secrets = CephTestCluster.secrets
            _ = try await node.nodeStageVolume(stage)
            _ = try await node.nodePublishVolume(paths.publishRequest(capability, target: "pod"))
            try "written through our own controller\n".write(toFile: paths.target("pod") + "/marker", atomically: true, encoding: .utf8)

            #expect(await code { _ = try await controller.deleteVolume(.with { $0.volumeID = volume.volumeID; $0.secrets = Self.admin }) } == .failedPrecondition)

            let expanded = try await controller.controllerExpandVolume(.with {
                $0.volumeID = volume.volumeID
                $0.capacityRange = .with { $0.requiredBytes = 160 << 20 }
                $0.volumeCapability = capability
                $0.secrets = Self.admin
            })
            #expect(expanded.capacityBytes == 160 << 20)
            #expect(expanded.nodeExpansionRequired)
            _ = try await node.nodeUnpublishVolume(paths.unpublishRequest(target: "pod"))
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            _ = try await node.nodeStageVolume(stage)
            let stats = try await node.nodeGetVolumeStats(.with { $0.volumeID = volume.volumeID; $0.volumePath = paths.stagedPath })
            #expect((stats.usage.first?.total ?? 0) > 120 << 20, "grown on stage: \(stats.usage)")
            #expect(try String(contentsOfFile: paths.stagedPath + "/marker", encoding: .utf8) == "written through our own controller\n")
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            _ = try await controller.deleteVolume(.with { $0.volumeID = volume.volumeID; $0.secrets = Self.admin })
            let id = try CSIVolumeID(decoding: volume.volumeID)
            #expect(try await Self.imageInfo("csi-vol-\(id.objectUUID)") == nil)
            #expect(try CephTestCluster.leftovers(under: plugin.directory).isEmpty)
        }
    }

    /// A volume provisioned by ceph-csi's controller is expanded and deleted by ours.
    @Test func volumeWrittenTheCephCSIWayIsExpandedAndDeleted() async throws {
        let journal = CephCSIJournal()
        let provisioned = try await journal.provision(clusterID: CephTestCluster.clusterID, sizeMiB: 32)
        try await TestPlugin.run { _, client in
            let controller = Csi_V1_Controller.Client(wrapping: client)
            let expanded = try await controller.controllerExpandVolume(.with {
                $0.volumeID = provisioned.volumeID
                $0.capacityRange = .with { $0.requiredBytes = 48 << 20 }
                $0.volumeCapability = CephTestCluster.blockCapability()
                $0.secrets = Self.admin
            })
            #expect(expanded.capacityBytes == 48 << 20)
            #expect(!expanded.nodeExpansionRequired)
            #expect(try await Self.imageInfo(provisioned.image)?["size"] as? Int == 48 << 20)
            // A shrink is never done: the larger size stays.
            let smaller = try await controller.controllerExpandVolume(.with {
                $0.volumeID = provisioned.volumeID
                $0.capacityRange = .with { $0.requiredBytes = 16 << 20 }
                $0.secrets = Self.admin
            })
            #expect(smaller.capacityBytes == 48 << 20)

            _ = try await controller.deleteVolume(.with { $0.volumeID = provisioned.volumeID; $0.secrets = Self.admin })
            #expect(try await Self.imageInfo(provisioned.image) == nil)
            #expect(try await Self.omap("csi.volumes.default")["csi.volume.\(provisioned.requestName)"] == nil)
            #expect(await code { _ = try await controller.controllerExpandVolume(.with {
                $0.volumeID = provisioned.volumeID
                $0.capacityRange = .with { $0.requiredBytes = 64 << 20 }
                $0.secrets = Self.admin
            }) } == .notFound)
        }
    }

    /// Reservations cut short by a crash (between the journal writes, or before the image) are
    /// completed or undone by the next call, and nothing leaks.
    @Test func interruptedReservationsAreRepaired() async throws {
        try await TestPlugin.run { _, client in
            let controller = Csi_V1_Controller.Client(wrapping: client)
            let journal = CephCSIJournal()
            // Cut after the directory key: the entry object exists but is empty.
            let name = "pvc-\(UUID().uuidString.lowercased())"
            let uuid = UUID().uuidString.lowercased()
            try await journal.setOmap("csi.volumes.default", "csi.volume.\(name)", uuid)
            try await CephTestCluster.rados(["-p", CephTestCluster.pool, "create", "csi.volume.\(uuid)"])
            let repaired = try await controller.createVolume(Self.createRequest(name)).volume
            #expect(try CSIVolumeID(decoding: repaired.volumeID).objectUUID == uuid)
            #expect(try await Self.omap("csi.volume.\(uuid)")["csi.volname"] == name)
            #expect(try await Self.imageInfo("csi-vol-\(uuid)")?["size"] as? Int == 1 << 30)

            // Cut before the image was made: the journal is complete, the image missing.
            let orphan = "pvc-\(UUID().uuidString.lowercased())"
            let volume = try await controller.createVolume(Self.createRequest(orphan)).volume
            let orphanID = try CSIVolumeID(decoding: volume.volumeID)
            try await CephTestCluster.rbd(["rm", "\(CephTestCluster.pool)/csi-vol-\(orphanID.objectUUID)"])
            let again = try await controller.createVolume(Self.createRequest(orphan)).volume
            #expect(again.volumeID == volume.volumeID)
            #expect(try await Self.imageInfo("csi-vol-\(orphanID.objectUUID)") != nil)
            // And DeleteVolume of a volume whose image is gone still cleans its journal.
            try await CephTestCluster.rbd(["rm", "\(CephTestCluster.pool)/csi-vol-\(orphanID.objectUUID)"])
            _ = try await controller.deleteVolume(.with { $0.volumeID = volume.volumeID; $0.secrets = Self.admin })
            #expect(try await Self.omap("csi.volumes.default")["csi.volume.\(orphan)"] == nil)
            _ = try await controller.deleteVolume(.with { $0.volumeID = repaired.volumeID; $0.secrets = Self.admin })
            let objects = try await CephTestCluster.rados(["-p", CephTestCluster.pool, "ls"])
            #expect(!objects.contains(uuid) && !objects.contains(orphanID.objectUUID))
        }
    }

    @Test func concurrentCreatesOfOneNameMakeOneVolume() async throws {
        try await TestPlugin.run { _, client in
            let controller = Csi_V1_Controller.Client(wrapping: client)
            let name = "pvc-\(UUID().uuidString.lowercased())"
            let results = try await withThrowingTaskGroup(of: (String?, RPCError.Code?).self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        do {
                            return (try await controller.createVolume(Self.createRequest(name)).volume.volumeID, nil)
                        } catch let error as RPCError {
                            return (nil, error.code)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let ids = Set(results.compactMap(\.0))
            #expect(ids.count == 1)
            #expect(results.allSatisfy { $0.0 != nil || $0.1 == .aborted }, "\(results)")
            let images = try await CephTestCluster.rbd(["ls", CephTestCluster.pool])
            let id = try CSIVolumeID(decoding: try #require(ids.first))
            #expect(images.components(separatedBy: "csi-vol-\(id.objectUUID)").count == 2)
            _ = try await controller.deleteVolume(.with { $0.volumeID = id.description; $0.secrets = Self.admin })
        }
    }

    @Test func encryptedStorageClassPreparesTheImageForTheNode() async throws {
        try await TestPlugin.run { _, client in
            let controller = Csi_V1_Controller.Client(wrapping: client)
            let volume = try await controller.createVolume(Self.createRequest("pvc-\(UUID().uuidString.lowercased())", parameters: ["encrypted": "true"])).volume
            let id = try CSIVolumeID(decoding: volume.volumeID)
            let entry = try await Self.omap("csi.volume.\(id.objectUUID)")
            #expect(entry["csi.volume.encryptKMS"] == "default")
            #expect(entry["csi.volume.encryptionType"] == "block")
            let state = try await CephTestCluster.rbd(["image-meta", "get", "\(CephTestCluster.pool)/csi-vol-\(id.objectUUID)", "rbd.csi.ceph.com/encrypted"])
            #expect(state.trimmingCharacters(in: .whitespacesAndNewlines) == "encryptionPrepared")
            #expect(volume.volumeContext["encrypted"] == "true")
            _ = try await controller.deleteVolume(.with { $0.volumeID = volume.volumeID; $0.secrets = Self.admin })
        }
    }

    /// The metadata KMS: the controller seals a new DEK for the volume id into image metadata,
    /// which the node opens with the same passphrase.
    @Test func metadataKMSGetsASealedKeyFromTheController() async throws {
        try await TestPlugin.run(kmsConfig: #"{"meta": {"encryptionKMSType": "metadata"}}"#) { _, client in
            let controller = Csi_V1_Controller.Client(wrapping: client)
            var request = Self.createRequest("pvc-\(UUID().uuidString.lowercased())", parameters: ["encrypted": "true", "encryptionKMSID": "meta"])
            #expect(await code { _ = try await controller.createVolume(request) } == .invalidArgument)  // no passphrase
            request.secrets["encryptionPassphrase"] = "controller passphrase"
            let volume = try await controller.createVolume(request).volume
            let id = try CSIVolumeID(decoding: volume.volumeID)
            let image = "\(CephTestCluster.pool)/csi-vol-\(id.objectUUID)"
            let dek = try await Self.openKey(of: image, volumeID: volume.volumeID, passphrase: "controller passphrase")
            #expect(dek.count == 28)
            await #expect(throws: CSIError.self) { try await Self.openKey(of: image, volumeID: volume.volumeID, passphrase: "wrong") }
            #expect(try await Self.omap("csi.volume.\(id.objectUUID)")["csi.volume.encryptKMS"] == "meta")
            _ = try await controller.deleteVolume(.with { $0.volumeID = volume.volumeID; $0.secrets = Self.admin })
        }
    }

    /// The metadata KMS with `secretName` (issue 14): the passphrase comes from the Secret in
    /// the PVC's namespace, read through the Kubernetes API (the fake server, over TLS with a
    /// token); a snapshot of the volume finds it again by the owner its journal records. Where
    /// the namespace has no such Secret: FAILED_PRECONDITION, and nothing is reserved.
    @Test func metadataKMSPassphraseComesFromTheSecretInThePVCsNamespace() async throws {
        let root = "/tmp/rbdcsi-kube-root-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/api/v1/namespaces/team-a/secrets", withIntermediateDirectories: true)
        let passphrase = "team-a's passphrase"
        try #"{"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "rbd-kms", "namespace": "team-a"}, "data": {"encryptionPassphrase": "\#(Data(passphrase.utf8).base64EncodedString())"}}"#
            .write(toFile: root + "/api/v1/namespaces/team-a/secrets/rbd-kms.json", atomically: true, encoding: .utf8)
        let server = try await FakeAPIServer(root: root)
        defer { server.stop() }
        let kubernetes = try KubernetesClient(config: server.config())
        do {
            try await TestPlugin.run(kmsConfig: #"{"k8s": {"encryptionKMSType": "metadata", "secretName": "rbd-kms"}}"#, kubernetes: kubernetes) { _, client in
                let controller = Csi_V1_Controller.Client(wrapping: client)
                let parameters = ["encrypted": "true", "encryptionKMSID": "k8s"]
                // team-b has no such Secret.
                let refused = "pvc-\(UUID().uuidString.lowercased())"
                let error = await #expect(throws: RPCError.self) {
                    _ = try await controller.createVolume(Self.createRequest(refused, parameters: parameters.merging(["csi.storage.k8s.io/pvc/namespace": "team-b"]) { $1 }))
                }
                #expect(error?.code == .failedPrecondition)
                #expect(error?.message.contains("team-b/rbd-kms") == true, "\(error?.message ?? "")")
                #expect(try await Self.omap("csi.volumes.default")["csi.volume.\(refused)"] == nil)

                // team-a has it; the request carries no passphrase.
                let request = Self.createRequest(
                    "pvc-\(UUID().uuidString.lowercased())", bytes: 16 << 20, parameters: parameters.merging(["csi.storage.k8s.io/pvc/namespace": "team-a"]) { $1 }
                )
                #expect(request.secrets["encryptionPassphrase"] == nil)
                let volume = try await controller.createVolume(request).volume
                let id = try CSIVolumeID(decoding: volume.volumeID)
                let key = try await Self.openKey(of: "\(CephTestCluster.pool)/csi-vol-\(id.objectUUID)", volumeID: volume.volumeID, passphrase: passphrase)
                #expect(key.count == 28)
                #expect(try await Self.omap("csi.volume.\(id.objectUUID)")["csi.volume.owner"] == "team-a")

                // The snapshot copies the key with the Secret's passphrase too.
                let snapshot = try await controller.createSnapshot(.with {
                    $0.name = "snapshot-\(UUID().uuidString.lowercased())"
                    $0.sourceVolumeID = volume.volumeID
                    $0.parameters = ["clusterID": CephTestCluster.clusterID]
                    $0.secrets = Self.admin
                }).snapshot
                let snapshotUUID = try CSIVolumeID(decoding: snapshot.snapshotID).objectUUID
                let snapshotKey = try await Self.openKey(
                    of: "\(CephTestCluster.pool)/csi-snap-\(snapshotUUID)", volumeID: snapshot.snapshotID, passphrase: passphrase
                )
                #expect(snapshotKey == key)
                #expect(server.requests.filter { $0.contains("/api/v1/namespaces/team-a/secrets/rbd-kms") }.count == 2)
                #expect(server.requests.contains { $0.contains("/api/v1/namespaces/team-b/secrets/rbd-kms") })

                _ = try await controller.deleteSnapshot(.with { $0.snapshotID = snapshot.snapshotID; $0.secrets = Self.admin })
                _ = try await controller.deleteVolume(.with { $0.volumeID = volume.volumeID; $0.secrets = Self.admin })
            }
        } catch {
            await kubernetes.shutdown()
            throw error
        }
        await kubernetes.shutdown()
    }

    @Test func badRequestsHaveTheirCodes() async throws {
        try await TestPlugin.run { _, client in
            let controller = Csi_V1_Controller.Client(wrapping: client)
            let name = "pvc-\(UUID().uuidString.lowercased())"
            var noPool = Self.createRequest(name)
            noPool.parameters["pool"] = nil
            var unknownPool = Self.createRequest(name)
            unknownPool.parameters["pool"] = "no-such-pool"
            var noCluster = Self.createRequest(name)
            noCluster.parameters["clusterID"] = "unknown-cluster"
            var noSecrets = Self.createRequest(name)
            noSecrets.secrets = [:]
            var multiWriterMount = Self.createRequest(name)
            multiWriterMount.volumeCapabilities = [CephTestCluster.mountCapability(mode: .multiNodeMultiWriter)]
            var limitTooSmall = Self.createRequest(name)
            limitTooSmall.capacityRange = .with { $0.requiredBytes = (1 << 30) + 1; $0.limitBytes = (1 << 30) + 1 }
            for (request, expected) in [
                (noPool, RPCError.Code.invalidArgument), (unknownPool, .invalidArgument), (noCluster, .invalidArgument),
                (noSecrets, .invalidArgument), (multiWriterMount, .invalidArgument), (limitTooSmall, .outOfRange),
                (Self.createRequest(name, parameters: ["imageFeatures": "fast-diff"]), .invalidArgument),
                (Self.createRequest(name, parameters: ["imageFeatures": "no-such-feature"]), .invalidArgument),
                (Self.createRequest(""), .invalidArgument),
            ] {
                #expect(await code { _ = try await controller.createVolume(request) } == expected, "\(request.parameters) \(request.capacityRange)")
            }
            #expect(try await Self.omap("csi.volumes.default")["csi.volume.\(name)"] == nil)
            #expect(await code { _ = try await controller.deleteVolume(.with { $0.secrets = Self.admin }) } == .invalidArgument)
            #expect(await code { _ = try await controller.validateVolumeCapabilities(.with {
                $0.volumeID = "no-such-volume"
                $0.volumeCapabilities = [CephTestCluster.mountCapability()]
            }) } == .notFound)
            let volume = try await controller.createVolume(Self.createRequest(name, block: true)).volume
            let confirmed = try await controller.validateVolumeCapabilities(.with {
                $0.volumeID = volume.volumeID
                $0.volumeCapabilities = [CephTestCluster.blockCapability(mode: .multiNodeMultiWriter)]
                $0.secrets = Self.admin
            })
            #expect(confirmed.hasConfirmed)
            let refused = try await controller.validateVolumeCapabilities(.with {
                $0.volumeID = volume.volumeID
                $0.volumeCapabilities = [CephTestCluster.mountCapability(mode: .multiNodeMultiWriter)]
                $0.secrets = Self.admin
            })
            #expect(!refused.hasConfirmed)
            #expect(!refused.message.isEmpty)
            _ = try await controller.deleteVolume(.with { $0.volumeID = volume.volumeID; $0.secrets = Self.admin })
        }
    }
}
