import CSIServices
import Foundation
import Logging
import ServiceLifecycle
import Testing

@testable import PluginRuntime

/// The composition root: the parts start in dependency order and stop in reverse, and a part
/// that fails stops the others in order.
@Suite("PluginApplication: one ServiceGroup, dependency order")
struct PluginApplicationTests {
    static func configuration(socket: String, domainLabels: String = "") -> PluginConfiguration {
        let info = PluginInfo(driverName: "rbd.csi.ceph.com", version: "test", nodeID: "n1", servesController: true)
        let services = PluginServices.Configuration(
            info: info, servesNode: false, stateDirectory: NSTemporaryDirectory(), clusterConfigPath: "/nonexistent/config.json"
        )
        return PluginConfiguration(
            endpoint: PluginEndpoint(socketPath: socket), services: services, labels: NodeLabelSettings(domainLabels: domainLabels),
            stagingRoot: "/nonexistent", metrics: nil, kubernetes: nil
        )
    }

    /// A socket in a directory of its own (its lock file goes beside it), removed after `body`.
    static func withSocket(_ body: (String) async throws -> Void) async throws {
        let directory = "/tmp/rbdcsi-app-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await body(directory + "/csi.sock")
    }

    /// A debug-level logger whose lines `sink` keeps.
    static func recordingLogger() -> (Logger, RecordingHandler) {
        let sink = RecordingHandler()
        var logger = Logger(label: "app") { _ in sink }
        logger.logLevel = .debug
        return (logger, sink)
    }

    /// Waits for `condition`, checked every 10 ms, for at most `limit`.
    static func waitFor(_ limit: Duration = .seconds(10), _ condition: () -> Bool) async throws -> Bool {
        let end = ContinuousClock.now + limit
        while ContinuousClock.now < end {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    @Test func partsStartInOrderAndStopInReverse() async throws {
        try await Self.withSocket { socket in
            let (logger, sink) = Self.recordingLogger()
            let application = PluginApplication(configuration: Self.configuration(socket: socket, domainLabels: "zone=z1"), logger: logger)
            let group = application.serviceGroup(gracefulShutdownSignals: [])
            let running = Task { try await group.run() }
            #expect(try await Self.waitFor { SocketLock.isAnswering(socketPath: socket) })
            await group.triggerGracefulShutdown()
            try await running.value

            let lines = sink.lines.value
            func index(_ prefix: String) -> Int? { lines.firstIndex { $0.hasPrefix(prefix) } }
            let listening = try #require(index("listening"))
            let stopped = try #require(index("stopped"))
            let closed = try #require(index("closed the Ceph connections"))
            #expect(listening < stopped)
            // The pool outlives the server's last call.
            #expect(stopped < closed)
            #expect(!FileManager.default.fileExists(atPath: socket))
        }
    }

    @Test func aFailedAssemblyStopsTheGroupBeforeAnythingIsServed() async throws {
        try await Self.withSocket { socket in
            let (logger, sink) = Self.recordingLogger()
            // A domain label without a value, no labels file and no Kubernetes API: the assembly fails.
            let application = PluginApplication(configuration: Self.configuration(socket: socket, domainLabels: "topology.kubernetes.io/zone"), logger: logger)
            await #expect(throws: PluginRuntimeError.self) {
                try await application.serviceGroup(gracefulShutdownSignals: []).run()
            }
            let lines = sink.lines.value
            #expect(!lines.contains { $0.hasPrefix("listening") })
            #expect(lines.contains { $0.hasPrefix("closed the Ceph connections") })
            #expect(!FileManager.default.fileExists(atPath: socket))
        }
    }

    @Test func aGateHandsItsValueToEarlyAndLateWaitersAndEndsCancelledOnes() async throws {
        let gate = StartupGate<Int>()
        let early = Task { try await gate.value() }
        let cancelled = Task { try await gate.value() }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        gate.open(7)
        gate.abandon()  // too late: the first settlement counts
        #expect(try await early.value == 7)
        #expect(try await gate.value() == 7)

        let abandoned = StartupGate<Int>()
        let waiter = Task { try await abandoned.value() }
        abandoned.abandon()
        await #expect(throws: StartupGate<Int>.Abandoned.self) { try await waiter.value }
    }
}
