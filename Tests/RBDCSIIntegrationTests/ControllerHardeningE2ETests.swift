import CSIProtocol
import CephAccess
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Testing

@testable import CSIServices

/// The controller tried as an attacker would (issue 27), on real Ceph, each test in a RADOS
/// namespace of its own so that what is left over is counted exactly.
@Suite("Controller hardening against real Ceph (issue 27)", .enabled(if: CephTestCluster.isConfigured), .serialized)
struct ControllerHardeningE2ETests {
    static let admin = ControllerE2ETests.admin

    static func createRequest(_ name: String, in namespace: IsolatedNamespace, bytes: Int64 = 16 << 20, parameters extra: [String: String] = [:]) -> Csi_V1_CreateVolumeRequest {
        .with {
            $0.name = name
            $0.capacityRange = .with { $0.requiredBytes = bytes }
            $0.volumeCapabilities = [CephTestCluster.mountCapability()]
            $0.parameters = namespace.parameters.merging(extra) { $1 }
            $0.secrets = admin
        }
    }

    static func snapshotRequest(_ name: String, of volumeID: String, parameters: [String: String] = [:]) -> Csi_V1_CreateSnapshotRequest {
        .with {
            $0.name = name
            $0.sourceVolumeID = volumeID
            $0.parameters = parameters
            $0.secrets = admin
        }
    }

    static func deadline(_ milliseconds: Int) -> CallOptions {
        var options = CallOptions.defaults
        options.timeout = .milliseconds(milliseconds)
        return options
    }

    /// Runs `body` with a controller in a fresh namespace, then checks that nothing is left.
    static func withController(_ body: @Sendable (Csi_V1_Controller.Client<HTTP2ClientTransport.Posix>, IsolatedNamespace) async throws -> Void) async throws {
        let namespace = try await IsolatedNamespace.make()
        try await TestPlugin.run(extraClusters: [namespace.configEntry]) { _, client in
            try await body(Csi_V1_Controller.Client(wrapping: client), namespace)
        }
        let left = try await namespace.leftovers()
        #expect(left == [], "left over in namespace \(namespace.name): \(left)")
        await namespace.removeIfEmpty()
    }

    static func delete(_ volumeID: String, _ controller: Csi_V1_Controller.Client<HTTP2ClientTransport.Posix>) async throws {
        _ = try await controller.deleteVolume(.with { $0.volumeID = volumeID; $0.secrets = admin })
    }

    /// Item 1: a name prefix ending in NUL once sent another volume's image to the trash.
    @Test func nulControlCharactersAndSeparatorsAreRefusedAndTouchNothing() async throws {
        try await Self.withController { controller, namespace in
            let victim = try await controller.createVolume(Self.createRequest("victim", in: namespace)).volume
            let uuid = try CSIVolumeID(decoding: victim.volumeID).objectUUID
            let bad: [(String, [String: String], String)] = [
                ("pvc-a", ["volumeNamePrefix": "csi-vol-\(uuid)\0"], "NUL"),
                ("pvc-b", ["volumeNamePrefix": "csi-vol-\(uuid.prefix(30))\0"], "NUL"),
                ("pvc-c", ["volumeNamePrefix": "a/b"], "'/'"),
                ("pvc-d", ["volumeNamePrefix": "x@"], "'@'"),
                ("pvc-e", ["volumeNamePrefix": "tab\t"], "control character"),
                ("pvc-f", ["pool": "\(CephTestCluster.pool)\0junk"], "NUL"),
                ("pvc-g", ["dataPool": "a/b"], "'/'"),
                ("leak\0" + String(repeating: "Z", count: 64), [:], "NUL"),
                ("leak\0" + String(repeating: "Z", count: 60_000), [:], "NUL"),
                ("line\nbreak", [:], "control character"),
            ]
            for (name, parameters, problem) in bad {
                let error = await rpcError { _ = try await controller.createVolume(Self.createRequest(name, in: namespace, parameters: parameters)) }
                #expect(error?.code == .invalidArgument, "\(name.debugDescription) \(parameters)")
                #expect(error?.message.contains(problem) == true, "\(error?.message ?? "")")
            }
            var userWithNUL = Self.createRequest("pvc-h", in: namespace)
            userWithNUL.secrets["userID"] = "admin\0x"
            #expect(await code { _ = try await controller.createVolume(userWithNUL) } == .invalidArgument)
            for request in [
                Self.snapshotRequest("snap\0x", of: victim.volumeID),
                Self.snapshotRequest("snap-a", of: victim.volumeID, parameters: ["snapshotNamePrefix": "s@"]),
                Self.snapshotRequest("snap-b", of: victim.volumeID, parameters: ["snapshotNamePrefix": "s\0"]),
                Self.snapshotRequest("snap-c", of: victim.volumeID, parameters: ["pool": "a/b"]),
            ] {
                #expect(await code { _ = try await controller.createSnapshot(request) } == .invalidArgument, "\(request.name.debugDescription)")
            }
            // The victim is untouched, and nothing else was made.
            #expect(try await namespace.images() == ["csi-vol-\(uuid)"])
            #expect(try await namespace.directoryKeys() == ["csi.volume.victim"])
            #expect(try await namespace.directoryKeys("csi.snaps.default") == [])
            let validated = try await controller.validateVolumeCapabilities(.with {
                $0.volumeID = victim.volumeID
                $0.volumeCapabilities = [CephTestCluster.mountCapability()]
                $0.secrets = Self.admin
            })
            #expect(validated.hasConfirmed)
            try await Self.delete(victim.volumeID, controller)
        }
    }

    /// Item 2: sizes near 2^63 trapped the process with the journal and an 8 EiB image written.
    @Test func sizesAboveTheLimitAreOutOfRangeBeforeAnythingIsWritten() async throws {
        try await Self.withController { controller, namespace in
            for bytes: Int64 in [Int64.max - (1 << 30) + 2, Int64.max, (1 << 50) + 1] {
                #expect(await code { _ = try await controller.createVolume(Self.createRequest("huge-\(bytes)", in: namespace, bytes: bytes)) } == .outOfRange, "\(bytes)")
            }
            #expect(try await namespace.directoryKeys() == [])
            #expect(try await namespace.images() == [])
            let volume = try await controller.createVolume(Self.createRequest("small", in: namespace)).volume
            for bytes: Int64 in [Int64.max, (1 << 50) + 1] {
                let expand = Csi_V1_ControllerExpandVolumeRequest.with {
                    $0.volumeID = volume.volumeID
                    $0.capacityRange = .with { $0.requiredBytes = bytes }
                    $0.secrets = Self.admin
                }
                #expect(await code { _ = try await controller.controllerExpandVolume(expand) } == .outOfRange)
            }
            let snapshot = try await controller.createSnapshot(Self.snapshotRequest("small-snap", of: volume.volumeID)).snapshot
            for source in [
                Csi_V1_VolumeContentSource.with { $0.snapshot.snapshotID = snapshot.snapshotID },
                Csi_V1_VolumeContentSource.with { $0.volume.volumeID = volume.volumeID },
            ] {
                var request = Self.createRequest("huge-copy", in: namespace, bytes: Int64.max)
                request.volumeContentSource = source
                #expect(await code { _ = try await controller.createVolume(request) } == .outOfRange)
            }
            #expect(try await namespace.directoryKeys() == ["csi.volume.small"])
            _ = try await controller.deleteSnapshot(.with { $0.snapshotID = snapshot.snapshotID; $0.secrets = Self.admin })
            try await Self.delete(volume.volumeID, controller)
        }
    }

    /// Item 8: ceph-csi v3.12 honours and checks objectSize and striping; a missing data pool
    /// and a malformed key are the caller's mistakes (INVALID_ARGUMENT), not INTERNAL or
    /// UNAVAILABLE.
    @Test func layoutDataPoolAndKeyAreCheckedAndHonoured() async throws {
        try await Self.withController { controller, namespace in
            let refused: [[String: String]] = [
                ["objectSize": "3"], ["objectSize": "1024"], ["objectSize": "x"], ["stripeUnit": "65536"], ["stripeCount": "4"],
                ["objectSize": "1048576", "stripeUnit": "3000000", "stripeCount": "2"], ["dataPool": "no-such-pool"],
            ]
            for parameters in refused {
                #expect(await code { _ = try await controller.createVolume(Self.createRequest("layout-bad", in: namespace, parameters: parameters)) } == .invalidArgument, "\(parameters)")
            }
            var badKey = Self.createRequest("bad-key", in: namespace)
            badKey.secrets["userKey"] = "AQBzbm90LWEta2V5LWF0LWFsbA=="
            let error = await rpcError { _ = try await controller.createVolume(badKey) }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("not a cephx key") == true, "\(error?.message ?? "")")
            #expect(try await namespace.directoryKeys() == [])

            let volume = try await controller.createVolume(Self.createRequest("layout", in: namespace, parameters: [
                "objectSize": "1048576", "stripeUnit": "65536", "stripeCount": "4",
            ])).volume
            let image = try #require(volume.volumeContext["imageName"])
            let text = try await CephTestCluster.rbd(["info", "--format", "json", "\(namespace.poolSpec)/\(image)"])
            let info = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect(info["order"] as? Int == 20)
            #expect(info["stripe_unit"] as? Int == 65536)
            #expect(info["stripe_count"] as? Int == 4)
            try await Self.delete(volume.volumeID, controller)
        }
    }

    /// Item 4: with client deadlines from 5 to 395 ms, then a retry, snapshots, restores and
    /// clones left transient snapshots on their sources and trash entries. Deletes are cut
    /// short the same way. Nothing may be left once everything is deleted.
    @Test func cancelledCallsLeaveNothingBehind() async throws {
        try await Self.withController { controller, namespace in
            let source = try await controller.createVolume(Self.createRequest("source", in: namespace)).volume
            var snapshots: [String] = []
            var volumes: [String] = []
            for delay in stride(from: 5, through: 395, by: 30) {
                let snapshotRequest = Self.snapshotRequest("snap-\(delay)", of: source.volumeID)
                _ = try? await controller.createSnapshot(snapshotRequest, options: Self.deadline(delay))
                let snapshot = try await retried { try await controller.createSnapshot(snapshotRequest).snapshot }
                snapshots.append(snapshot.snapshotID)

                var clone = Self.createRequest("clone-\(delay)", in: namespace)
                clone.volumeContentSource = .with { $0.volume.volumeID = source.volumeID }
                _ = try? await controller.createVolume(clone, options: Self.deadline(delay))
                volumes.append(try await retried { try await controller.createVolume(clone).volume.volumeID })

                var restore = Self.createRequest("restore-\(delay)", in: namespace)
                restore.volumeContentSource = .with { $0.snapshot.snapshotID = snapshot.snapshotID }
                _ = try? await controller.createVolume(restore, options: Self.deadline(delay))
                volumes.append(try await retried { try await controller.createVolume(restore).volume.volumeID })
            }
            // Every name maps to one reservation: the retries found the cut-short ones.
            #expect(try await namespace.directoryKeys().count == 1 + volumes.count)
            #expect(try await namespace.directoryKeys("csi.snaps.default").count == snapshots.count)
            for (index, id) in volumes.enumerated() {
                let delay = 5 + (index % 14) * 30
                _ = try? await controller.deleteVolume(.with { $0.volumeID = id; $0.secrets = Self.admin }, options: Self.deadline(delay))
                try await retried { try await Self.delete(id, controller) }
            }
            for (index, id) in snapshots.enumerated() {
                let request = Csi_V1_DeleteSnapshotRequest.with { $0.snapshotID = id; $0.secrets = Self.admin }
                _ = try? await controller.deleteSnapshot(request, options: Self.deadline(5 + index * 30))
                try await retried { _ = try await controller.deleteSnapshot(request) }
            }
            try await Self.delete(source.volumeID, controller)
        }
    }
}

/// The call's result once no earlier call for the same name or id is still running (a call
/// cut short by its client's deadline keeps its lock until it has finished: ABORTED meanwhile),
/// retried as the external-provisioner retries, for up to two minutes.
func retried<R: Sendable>(also codes: [RPCError.Code] = [], _ call: () async throws -> R) async throws -> R {
    let end = ContinuousClock.now + .seconds(120)
    while ContinuousClock.now < end {
        do {
            return try await call()
        } catch let error as RPCError where ([.aborted, .deadlineExceeded, .unavailable] + codes).contains(error.code) {
            try await Task.sleep(for: .milliseconds(50))
        }
    }
    return try await call()
}

/// The RPCError a call throws, or nil.
func rpcError(_ body: () async throws -> Void) async -> RPCError? {
    do {
        try await body()
        return nil
    } catch {
        return error as? RPCError
    }
}
