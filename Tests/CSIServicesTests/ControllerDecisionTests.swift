import CSIProtocol
import CephAccess
import GRPCCore
import Testing

@testable import CSIServices

/// The controller's decisions against `FakeCeph` (issue 27): what an error path removes and
/// what it keeps, idempotency, and the refusals that come before anything is written.
@Suite struct ControllerDecisionTests {
    static let context = ServerContext(
        descriptor: Csi_V1_Controller.Method.CreateVolume.descriptor, remotePeer: "test", localPeer: "test",
        cancellation: ServerContext.RPCCancellationHandle()
    )
    static let secrets = ["userID": "admin", "userKey": "AQAVIRdrbnbrBBAAiF84CHdSv3UlnxunelKi8g=="]

    static func request(_ name: String, bytes: Int64 = 1 << 30, source: Csi_V1_VolumeContentSource? = nil) -> Csi_V1_CreateVolumeRequest {
        .with {
            $0.name = name
            $0.capacityRange = .with { $0.requiredBytes = bytes }
            $0.volumeCapabilities = [.with { $0.mount = .init(); $0.accessMode.mode = .singleNodeWriter }]
            $0.parameters = ["clusterID": FakeCeph.clusterID, "pool": "rbd"]
            $0.secrets = secrets
            if let source { $0.volumeContentSource = source }
        }
    }

    static func code(_ body: () async throws -> Void) async -> RPCError.Code? {
        do {
            try await body()
            return nil
        } catch {
            return RPCError(mapping: error).code
        }
    }

    @Test func createIsIdempotentAndAnotherSizeIsAlreadyExists() async throws {
        let ceph = FakeCeph()
        let controller = ceph.controller()
        let first = try await controller.createVolume(request: Self.request("pvc-1"), context: Self.context).volume
        let again = try await controller.createVolume(request: Self.request("pvc-1"), context: Self.context).volume
        #expect(first.volumeID == again.volumeID)
        #expect(ceph.images.count == 1)
        #expect(await Self.code { _ = try await controller.createVolume(request: Self.request("pvc-1", bytes: 2 << 30), context: Self.context) } == .alreadyExists)
        #expect(ceph.images.count == 1)
    }

    /// Item 1: an image of the name the create was to use, found already there, is not this
    /// call's: it stays, and only the call's own reservation goes.
    @Test func anImageThatExistedBeforeTheCreateIsNeverRemoved() async throws {
        let ceph = FakeCeph()
        let controller = ceph.controller()
        let foreign = ImageSpec(pool: "rbd", image: "someone-elses")
        ceph.fail("createImage", with: CephAccessError.imageExists(foreign))
        ceph.state.withLock { $0.images[foreign] = .init(id: "theirs", size: 1) }
        #expect(await Self.code { _ = try await controller.createVolume(request: Self.request("pvc-2"), context: Self.context) } == .internalError)
        #expect(ceph.images[foreign]?.id == "theirs")
        #expect(!ceph.steps.contains("removeImage"))
        #expect(ceph.omaps == [:])
    }

    @Test func aFailureAfterTheImageRemovesItAndThenTheReservation() async throws {
        let ceph = FakeCeph()
        let controller = ceph.controller()
        ceph.fail("setEntryValues", with: CephAccessError.callFailed(operation: "set", errno: 5))
        #expect(await Self.code { _ = try await controller.createVolume(request: Self.request("pvc-3"), context: Self.context) } == .internalError)
        #expect(ceph.images.isEmpty)
        #expect(ceph.omaps == [:])
        let steps = ceph.steps
        #expect(steps.lastIndex(of: "removeImage")! < steps.lastIndex(of: "undoReservation")!)
    }

    /// A delete removes the image, then releases the reservation it found by the volume id
    /// (directory key first: `VolumeJournal.release`); one whose release fails is finished by
    /// its retry.
    @Test func aDeleteReleasesTheReservationByItsIDAndItsRetryFinishes() async throws {
        let ceph = FakeCeph()
        let controller = ceph.controller()
        let volume = try await controller.createVolume(request: Self.request("pvc-del"), context: Self.context).volume
        let delete = Csi_V1_DeleteVolumeRequest.with {
            $0.volumeID = volume.volumeID
            $0.secrets = Self.secrets
        }
        ceph.fail("releaseReservation", with: CephAccessError.callFailed(operation: "release", errno: 5))
        #expect(await Self.code { _ = try await controller.deleteVolume(request: delete, context: Self.context) } == .internalError)
        #expect(ceph.images.isEmpty)
        _ = try await controller.deleteVolume(request: delete, context: Self.context)
        #expect(ceph.omaps == [:])
        let steps = ceph.steps
        #expect(steps.filter { $0 == "releaseReservation" }.count == 2)
        #expect(!steps.contains("undoReservation"))
        #expect(steps.lastIndex(of: "removeImage")! < steps.lastIndex(of: "releaseReservation")!)
    }

    /// An undo that fails keeps the reservation: the retry, with the same UUID, finds what is
    /// left and finishes.
    @Test func anUndoThatFailsKeepsTheReservationForTheRetry() async throws {
        let ceph = FakeCeph()
        let controller = ceph.controller()
        ceph.fail("setEntryValues", with: CephAccessError.callFailed(operation: "set", errno: 5))
        ceph.fail("removeImage", with: CephAccessError.callFailed(operation: "remove", errno: 5))
        #expect(await Self.code { _ = try await controller.createVolume(request: Self.request("pvc-4"), context: Self.context) } == .internalError)
        let kept = try #require(ceph.omaps["csi.volumes.default"]?["csi.volume.pvc-4"])
        #expect(ceph.images.count == 1)
        let volume = try await controller.createVolume(request: Self.request("pvc-4"), context: Self.context).volume
        #expect(try CSIVolumeID(decoding: volume.volumeID).objectUUID == kept)
        #expect(ceph.images.count == 1)
    }

    /// Item 4: a step past its time limit may still land; nothing is undone and the
    /// reservation stays, so the retry reuses the UUID and leaves no transient snapshot.
    @Test func aTimedOutCloneKeepsItsReservationAndTheRetryLeavesNoTransientSnapshot() async throws {
        let ceph = FakeCeph()
        let controller = ceph.controller()
        let source = try await controller.createVolume(request: Self.request("src"), context: Self.context).volume
        ceph.landThenTimeOut("cloneImage")
        let clone = Self.request("clone-1", source: .with { $0.volume.volumeID = source.volumeID })
        #expect(await Self.code { _ = try await controller.createVolume(request: clone, context: Self.context) } == .deadlineExceeded)
        let uuid = try #require(ceph.omaps["csi.volumes.default"]?["csi.volume.clone-1"])
        let volume = try await controller.createVolume(request: clone, context: Self.context).volume
        #expect(try CSIVolumeID(decoding: volume.volumeID).objectUUID == uuid)
        #expect(ceph.images.values.allSatisfy { $0.snapshots.isEmpty }, "\(ceph.images)")
        #expect(ceph.images.count == 3)  // source, temporary clone, clone
    }

    /// Item 4: a cancelled call's later steps never start, and its undo still runs in full.
    @Test func aCancelledCreateIsUndoneInFull() async throws {
        let ceph = FakeCeph()
        let controller = ceph.controller()
        let source = try await controller.createVolume(request: Self.request("src"), context: Self.context).volume
        let clone = Self.request("clone-2", source: .with { $0.volume.volumeID = source.volumeID })
        // The first clone step lands; the caller is cancelled meanwhile.
        ceph.fail("cloneImage", with: CancellationError())
        #expect(await Self.code { _ = try await controller.createVolume(request: clone, context: Self.context) } == .cancelled)
        #expect(ceph.images.count == 1)
        #expect(ceph.images.values.allSatisfy { $0.snapshots.isEmpty })
        #expect(ceph.omaps["csi.volumes.default"]?["csi.volume.clone-2"] == nil)
    }

    @Test func aSnapshotCancelledMidwayLeavesNothingOnItsSource() async throws {
        let ceph = FakeCeph()
        let controller = ceph.controller()
        let source = try await controller.createVolume(request: Self.request("src"), context: Self.context).volume
        ceph.fail("cloneImage", with: CancellationError())
        let request = Csi_V1_CreateSnapshotRequest.with { $0.name = "snap-1"; $0.sourceVolumeID = source.volumeID; $0.secrets = Self.secrets }
        #expect(await Self.code { _ = try await controller.createSnapshot(request: request, context: Self.context) } == .cancelled)
        #expect(ceph.images.count == 1)
        #expect(ceph.images.values.allSatisfy { $0.snapshots.isEmpty })
        #expect(ceph.omaps["csi.snaps.default"] == nil)
    }

    @Test func deepChainsAreFlattenedByTheManagerAndTheRequestWaits() async throws {
        let ceph = FakeCeph()
        let controller = ceph.controller(cloneLimits: try CloneLimits(hardDepth: 3, softDepth: 2))
        var source = try await controller.createVolume(request: Self.request("chain-0"), context: Self.context).volume
        // A clone adds two links (the temporary clone and the clone): a clone of that clone
        // checks its source's parent against the limits lowered by 2 (hard 1): flatten first.
        source = try await controller.createVolume(request: Self.request("chain-1", source: .with { $0.volume.volumeID = source.volumeID }), context: Self.context).volume
        let deeper = Self.request("chain-2", source: .with { $0.volume.volumeID = source.volumeID })
        #expect(await Self.code { _ = try await controller.createVolume(request: deeper, context: Self.context) } == .aborted)
        #expect(ceph.steps.contains("flatten"))
        #expect(ceph.omaps["csi.volumes.default"]?["csi.volume.chain-2"] == nil)
    }
}
