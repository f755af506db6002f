import CSIServices
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import GRPCTransport
import HostOperations
import KubernetesAccess
import Logging
import PluginRuntime
import ServiceLifecycle

/// A plugin server running in this test process on a socket in a fresh temporary directory.
struct TestPlugin {
    let directory: String
    let endpoint: PluginEndpoint
    var server: PluginServer? = nil

    /// The plugin's state directory (rbd-fuse mounts and logs).
    var stateDirectory: String { directory + "/state" }

    static func makeDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rbdcsi-test-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let info = PluginInfo(
        driverName: "rbd.csi.ceph.com",
        version: PluginVersion.current,
        nodeID: "test-node-1",
        topology: ["topology.rbd.csi.ceph.com/zone": "zone-a"],
        servesController: true
    )

    /// Starts the server with `services`, runs `body` with a connected client, then shuts the
    /// server down gracefully and checks that it removed its socket.
    static func run<R: Sendable>(
        services: [any GRPCMethodTableRegistrable]? = nil,
        cephTimeout: Duration = .seconds(10),
        inUseWait: InUseWait = InUseWait(),
        extraClusters: [CephTestCluster.ConfigEntry] = [],
        limits: ConnectionLimits = ConnectionLimits(),
        kmsConfig: String? = nil,
        cloneLimits: CloneLimits = .defaults,
        kubernetes: KubernetesClient? = nil,
        _ body: @Sendable (TestPlugin, GRPCClient<HTTP2ClientTransport.Posix>) async throws -> R
    ) async throws -> R {
        let directory = try makeDirectory()
        defer {
            // Never delete recursively through a mount a failed test left behind.
            if (try? CephTestCluster.leftovers(under: directory))?.isEmpty == true {
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
        let endpoint = PluginEndpoint(socketPath: directory + "/csi.sock")
        try CephTestCluster.writeConfig(in: directory, extraClusters: extraClusters)
        let logger = Logger(label: "test")
        if let kmsConfig { try kmsConfig.write(toFile: directory + "/kms.json", atomically: true, encoding: .utf8) }
        let configuration = PluginServices.Configuration(
            info: info, stateDirectory: directory + "/state", clusterConfigPath: directory + "/config.json",
            kmsConfigPath: directory + "/kms.json", cephTimeout: cephTimeout, inUseWait: inUseWait,
            cloneLimits: cloneLimits, kubernetes: kubernetes
        )
        let server = PluginServer(endpoint: endpoint, services: services ?? PluginServices.make(configuration, logger: logger), logger: logger, limits: limits)
        let group = ServiceGroup(services: [server], logger: logger)
        let plugin = TestPlugin(directory: directory, endpoint: endpoint, server: server)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await waitForSocket(endpoint.socketPath)
            let result = try await withGRPCClient(
                transport: .http2NIOPosix(target: .unixDomainSocket(path: endpoint.socketPath), transportSecurity: .plaintext)
            ) { client in
                try await body(plugin, client)
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        }
    }

    /// Waits until the server listens on `path`. The file appears at bind(2), before listen(2):
    /// a client connecting in between is refused (seen on a loaded machine), so the kernel's
    /// socket table is asked instead; a probe connection would count against the server's limits.
    static func waitForSocket(_ path: String) async throws {
        for _ in 0..<1000 {
            if UnixSocketTable.isListening(path) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestFailure("nothing listened on \(path) within 10 s")
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
