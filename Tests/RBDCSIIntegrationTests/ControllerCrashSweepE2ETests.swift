import CSIProtocol
import CephAccess
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The controller killed (SIGKILL) at many points of each call, then the call retried by a new
/// process, then everything deleted (issue 27, items 4 and 7): images, trash entries,
/// snapshots on sources, journal objects and keys left over are counted, and must be none.
@Suite("Controller crash sweep against real Ceph (issue 27)", .enabled(if: CephTestCluster.isConfigured), .serialized)
struct ControllerCrashSweepE2ETests {
    typealias Controller = Csi_V1_Controller.Client<HTTP2ClientTransport.Posix>

    /// The plugin executable serving the controller on one socket, restarted after each kill.
    final class ControllerProcess: @unchecked Sendable {
        let directory: String
        var socket: String { directory + "/csi.sock" }
        private var process: Process?

        init(namespace: IsolatedNamespace) throws {
            directory = try TestPlugin.makeDirectory()
            try CephTestCluster.writeConfig(in: directory, extraClusters: [namespace.configEntry])
        }

        /// Every run's log, appended: a pipe nobody reads would stop a talkative plugin once full.
        var logPath: String { directory + "/plugin.log" }

        func start() async throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ProcessLifecycleTests.binary)
            process.arguments = [
                "--controllerserver=true", "--endpoint=unix://\(socket)", "--statedir=\(directory)/state",
                "--cluster-config=\(directory)/config.json", "--kms-config=\(directory)/kms.json", "--v=4",
            ]
            if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            try log.seekToEnd()
            process.standardError = log
            process.standardOutput = log
            try process.run()
            self.process = process
            try await TestPlugin.waitForSocket(socket)
        }

        func kill() async {
            await signal(SIGKILL)
        }

        /// Sends `signal` and waits for the process to exit; its exit status.
        @discardableResult
        func signal(_ signal: Int32) async -> Int32 {
            guard let process else { return -1 }
            Glibc.kill(process.processIdentifier, signal)
            await process.exited()
            self.process = nil
            return process.terminationReason == .exit ? process.terminationStatus : -signal
        }

        /// Runs `body` with a client of the running process.
        func withClient<R: Sendable>(_ body: (Controller) async throws -> R) async throws -> R {
            try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { client in
                try await body(Controller(wrapping: client))
            }
        }

        /// Sends `call`, kills the process `delay` into it, and starts a new one.
        func killDuring(after delay: Duration, _ call: @escaping @Sendable (Controller) async throws -> Void) async throws {
            try await withClient { controller in
                let running = Task { try? await call(controller) }
                try await Task.sleep(for: delay)
                await kill()
                _ = await running.value
            }
            try await start()
        }
    }

    static func delays(_ count: Int, upTo maximum: Int) -> [Duration] {
        (0..<count).map { .milliseconds($0 * maximum / max(1, count - 1)) }
    }

    /// Issue 27: "in-flight calls finish on SIGTERM". A clone takes a few hundred
    /// milliseconds; SIGTERM arrives once its reservation is written, in the middle of it.
    @Test func sigtermLetsInFlightCallsFinish() async throws {
        let namespace = try await IsolatedNamespace.make()
        let plugin = try ControllerProcess(namespace: namespace)
        try await plugin.start()
        let source = try await plugin.withClient { try await $0.createVolume(ControllerHardeningE2ETests.createRequest("term-source", in: namespace)).volume }
        var clone = ControllerHardeningE2ETests.createRequest("term-clone", in: namespace)
        clone.volumeContentSource = .with { $0.volume.volumeID = source.volumeID }
        let request = clone
        let volume = try await plugin.withClient { controller in
            // The connection is up before the call starts: the signal must find the call in
            // flight, not a client still connecting (refused once the socket closes).
            _ = try await controller.controllerGetCapabilities(Csi_V1_ControllerGetCapabilitiesRequest())
            let call = Task { try await controller.createVolume(request).volume }
            // In flight on the server: its reservation is written (the clone comes after). Read
            // through librados, a few milliseconds a look.
            let connections = RadosConnectionPool(limit: .seconds(10))
            defer { Task { await connections.close() } }
            for _ in 0..<2000 {
                let found = try await connections.withIOContext(
                    pool: CephTestCluster.pool, namespace: namespace.name, access: CephTestCluster.access, operation: "look for the reservation"
                ) { ioctx throws(CephAccessError) in
                    try RadosOmap.values(of: "csi.volumes.default", keys: ["csi.volume.term-clone"], in: ioctx)?.isEmpty == false
                }
                if found { break }
                try await Task.sleep(for: .milliseconds(2))
            }
            let status = await plugin.signal(SIGTERM)
            #expect(status == 0)
            return try await call.value
        }
        #expect(try await namespace.images().contains(try #require(volume.volumeContext["imageName"])))
        try await plugin.start()
        for id in [volume.volumeID, source.volumeID] {
            _ = try await plugin.withClient { try await $0.deleteVolume(.with { $0.volumeID = id; $0.secrets = ControllerE2ETests.admin }) }
        }
        await plugin.kill()
        let left = try await namespace.leftovers()
        #expect(left == [], "left over in namespace \(namespace.name): \(left) (the plugin's log: \(plugin.logPath))")
        await namespace.removeIfEmpty()
        if left.isEmpty { try? FileManager.default.removeItem(atPath: plugin.directory) }
    }

    @Test func killedCallsAreFinishedByTheirRetryAndLeaveNothing() async throws {
        let namespace = try await IsolatedNamespace.make()
        let plugin = try ControllerProcess(namespace: namespace)
        try await plugin.start()
        let admin = ControllerE2ETests.admin
        func create(_ name: String, bytes: Int64 = 16 << 20, from source: Csi_V1_VolumeContentSource? = nil) -> Csi_V1_CreateVolumeRequest {
            // Without exclusive-lock: a killed process's image lock is only broken once its
            // watch times out (30 s), which would make the sweep take an hour; that wait is
            // librbd's, the same for ceph-csi.
            var request = ControllerHardeningE2ETests.createRequest(name, in: namespace, bytes: bytes, parameters: ["imageFeatures": "layering"])
            if let source { request.volumeContentSource = source }
            return request
        }
        let source = try await plugin.withClient { try await $0.createVolume(create("source")).volume }
        let sourceSnapshot = try await plugin.withClient {
            try await $0.createSnapshot(ControllerHardeningE2ETests.snapshotRequest("source-snap", of: source.volumeID)).snapshot
        }
        var volumes: [String] = []
        var snapshots: [String] = []

        // CreateVolume: 30 points; the others 4 each (a killed librbd client's watch holds its
        // images for 30 s, which the retries wait out).
        for (index, delay) in Self.delays(30, upTo: 145).enumerated() {
            let request = create("crash-\(index)")
            try await plugin.killDuring(after: delay) { _ = try await $0.createVolume(request) }
            volumes.append(try await plugin.withClient { controller in try await retried { try await controller.createVolume(request).volume.volumeID } })
        }
        for (index, delay) in Self.delays(4, upTo: 240).enumerated() {
            let snapshot = ControllerHardeningE2ETests.snapshotRequest("crash-snap-\(index)", of: source.volumeID)
            try await plugin.killDuring(after: delay) { _ = try await $0.createSnapshot(snapshot) }
            snapshots.append(try await plugin.withClient { controller in try await retried { try await controller.createSnapshot(snapshot).snapshot.snapshotID } })

            let restore = create("crash-restore-\(index)", from: .with { $0.snapshot.snapshotID = sourceSnapshot.snapshotID })
            try await plugin.killDuring(after: delay) { _ = try await $0.createVolume(restore) }
            volumes.append(try await plugin.withClient { controller in try await retried { try await controller.createVolume(restore).volume.volumeID } })

            let clone = create("crash-clone-\(index)", from: .with { $0.volume.volumeID = source.volumeID })
            try await plugin.killDuring(after: delay) { _ = try await $0.createVolume(clone) }
            volumes.append(try await plugin.withClient { controller in try await retried { try await controller.createVolume(clone).volume.volumeID } })
        }
        // Every name has one reservation; every retry found its predecessor's.
        #expect(try await namespace.directoryKeys().count == 1 + volumes.count)
        #expect(try await namespace.directoryKeys("csi.snaps.default").count == 1 + snapshots.count)

        for (index, id) in volumes.enumerated() {
            let request = Csi_V1_DeleteVolumeRequest.with { $0.volumeID = id; $0.secrets = admin }
            if index % 8 == 0 {
                try await plugin.killDuring(after: .milliseconds(index * 3 % 120)) { _ = try await $0.deleteVolume(request) }
            }
            // A killed process's watch on the image lasts 30 s: until then the delete is refused
            // as for a mapped image (FAILED_PRECONDITION), and the provisioner retries.
            _ = try await plugin.withClient { controller in try await retried(also: [.failedPrecondition]) { try await controller.deleteVolume(request) } }
        }
        for (index, id) in (snapshots + [sourceSnapshot.snapshotID]).enumerated() {
            let request = Csi_V1_DeleteSnapshotRequest.with { $0.snapshotID = id; $0.secrets = admin }
            if index % 2 == 0 { try await plugin.killDuring(after: .milliseconds(index * 15)) { _ = try await $0.deleteSnapshot(request) } }
            _ = try await plugin.withClient { controller in try await retried { try await controller.deleteSnapshot(request) } }
        }
        let deleteSource = Csi_V1_DeleteVolumeRequest.with { $0.volumeID = source.volumeID; $0.secrets = admin }
        _ = try await plugin.withClient { controller in try await retried(also: [.failedPrecondition]) { try await controller.deleteVolume(deleteSource) } }
        await plugin.kill()
        let left = try await namespace.leftovers()
        #expect(left == [], "left over in namespace \(namespace.name): \(left) (the plugin's log: \(plugin.logPath))")
        await namespace.removeIfEmpty()
        if left.isEmpty { try? FileManager.default.removeItem(atPath: plugin.directory) }
    }
}
