import CSIProtocol
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import HostOperations
import Logging
import PluginRuntime
import Testing

/// Issue 16 on the plugin process: children die with it, a live socket is never taken over,
/// the client keeps keys out of argv.
@Suite("Process hardening (issue 16)", .serialized)
struct ProcessHardeningTests {
    // Minor: a deleted lock file does not let a second instance take over a live socket.
    @Test func deletedLockFileDoesNotLetASecondInstanceTakeOver() async throws {
        try await TestPlugin.run { plugin, client in
            try FileManager.default.removeItem(atPath: plugin.endpoint.socketPath + ".lock")
            let second = PluginServer(endpoint: plugin.endpoint, services: [], logger: Logger(label: "second"))
            let error = await #expect(throws: PluginRuntimeError.self) { try await second.run() }
            #expect(error?.description.contains("accepts connections") == true)
            _ = try await Csi_V1_Identity.Client(wrapping: client).probe(.init())
        }
    }

    // Minor: the client takes keys from a file or standard input, never from argv.
    @Test func clientRefusesAKeyOnTheCommandLine() async throws {
        let process = try ProcessLifecycleTests.launch([
            "client", "--endpoint", "unix:///tmp/rbdcsi-never.sock", "node", "stage",
            "--volume-id", "v", "--staging-path", "/tmp", "--secret", "userID=u", "--secret", "userKey=AQ-visible",
        ])
        await process.exited()
        #expect(process.terminationStatus != 0)
        #expect(ProcessLifecycleTests.stderr(of: process).contains("--secret-file userKey="))
    }

    // Item 5: a child (here a stand-in mkfs.ext4 that never ends) dies with a SIGKILLed
    // plugin, so no retry ever races it; a new plugin then unstages from the stash.
    @Test(.enabled(if: CephTestCluster.isConfigured))
    func childrenDieWithAKilledPlugin() async throws {
        let directory = try TestPlugin.makeDirectory()
        try CephTestCluster.writeConfig(in: directory)
        let shims = directory + "/shims"
        try FileManager.default.createDirectory(atPath: shims, withIntermediateDirectories: true)
        try "#!/bin/sh\necho $$ > \(directory)/mkfs.pid\nexec sleep 300\n".write(toFile: shims + "/mkfs.ext4", atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: shims + "/mkfs.ext4")
        let image = try await CephTestCluster.createImage(sizeMiB: 16)
        let staging = directory + "/staging"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        let socket = directory + "/csi.sock"
        let flags = ["--nodeserver=true", "--nodeid=n1", "--endpoint=unix://\(socket)", "--statedir=\(directory)/state", "--cluster-config=\(directory)/config.json"]
        let request = Csi_V1_NodeStageVolumeRequest.with {
            $0.volumeID = image
            $0.stagingTargetPath = staging
            $0.volumeCapability = CephTestCluster.mountCapability()
            $0.secrets = CephTestCluster.secrets
            $0.volumeContext = CephTestCluster.context()
        }

        let plugin = try Self.launch(flags, path: shims + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"))
        try await TestPlugin.waitForSocket(socket)
        let stage = Task { try await Self.withClient(socket) { _ = try await Csi_V1_Node.Client(wrapping: $0).nodeStageVolume(request) } }
        let pidText = try await NodeHardeningE2ETests.poll(for: .seconds(30)) { () -> String? in
            (try? String(contentsOfFile: directory + "/mkfs.pid", encoding: .utf8))?.trimmingWhitespace()
        }
        let mkfs = try #require(pid_t(pidText))
        #expect(ProcessTable.isRunning(mkfs))
        kill(plugin.processIdentifier, SIGKILL)
        await plugin.exited()
        _ = try? await stage.value
        _ = try await NodeHardeningE2ETests.poll(for: .seconds(5)) { ProcessTable.isRunning(mkfs) ? nil : true }

        // A fresh plugin finishes the job from the stash the killed one left.
        let second = try Self.launch(flags, path: ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        defer { kill(second.processIdentifier, SIGTERM); second.waitUntilExit() }
        try await Self.waitForFreshSocket(socket)
        try await Self.withClient(socket) { client in
            _ = try await Csi_V1_Node.Client(wrapping: client).nodeUnstageVolume(.with { $0.volumeID = image; $0.stagingTargetPath = staging })
        }
        #expect(try CephTestCluster.leftovers(under: directory).isEmpty)
    }

    static func launch(_ arguments: [String], path: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ProcessLifecycleTests.binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["PATH": path]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Waits until a process answers on `socket` (a killed predecessor may have left the file).
    static func waitForFreshSocket(_ socket: String) async throws {
        _ = try await NodeHardeningE2ETests.poll(for: .seconds(10)) { SocketLock.isAnswering(socketPath: socket) ? true : nil }
    }

    static func withClient<R: Sendable>(_ socket: String, _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> R) async throws -> R {
        try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { client in
            try await body(client)
        }
    }
}
