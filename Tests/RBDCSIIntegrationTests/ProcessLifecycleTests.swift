import CSIProtocol
import Foundation
import Logging
import PluginRuntime
import ServiceLifecycle
import Testing

@Suite("Plugin process: start-up checks, socket lock, SIGTERM")
struct ProcessLifecycleTests {
    /// The built executable (`swift build` puts it next to the test bundle).
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["RBDCSI_BINARY"] { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/rbdcsi").path
    }

    /// Runs the executable and returns its exit status and standard error.
    static func launch(_ arguments: [String]) throws -> Process {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw TestFailure("\(binary) is missing: run `swift build` before the tests")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.standardError = Pipe()
        process.standardOutput = Pipe()
        try process.run()
        return process
    }

    static func stderr(of process: Process) -> String {
        let data = (process.standardError as! Pipe).fileHandleForReading.readDataToEndOfFile()
        return String(decoding: data, as: UTF8.self)
    }

    @Test func secondServerOnTheSameSocketIsRefused() async throws {
        try await TestPlugin.run { plugin, client in
            _ = try await Csi_V1_Identity.Client(wrapping: client).probe(.init())
            let second = PluginServer(endpoint: plugin.endpoint, services: [], logger: Logger(label: "second"))
            await #expect(throws: PluginRuntimeError.self) { try await second.run() }
            // The first server's socket is untouched.
            #expect(FileManager.default.fileExists(atPath: plugin.endpoint.socketPath))
        }
    }

    @Test func missingNodeIDIsAOneLineStartupError() async throws {
        let process = try Self.launch(["--type=rbd", "--nodeserver=true", "--endpoint=unix:///tmp/rbdcsi-never.sock"])
        await process.exited()
        let message = Self.stderr(of: process)
        #expect(process.terminationStatus != 0)
        #expect(message.contains("--nodeid is required"))
        #expect(message.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1)
    }

    @Test func tcpEndpointIsRefusedClearly() async throws {
        let process = try Self.launch(["--nodeserver", "--nodeid=n1", "--endpoint=tcp://127.0.0.1:10000"])
        await process.exited()
        #expect(process.terminationStatus != 0)
        #expect(Self.stderr(of: process).contains("tcp:// endpoints are not supported"))
    }

    /// ceph-csi's clone and snapshot limits, Go-style, out of range: start-up refused.
    @Test(arguments: [
        (["--rbdhardmaxclonedepth=15"], "--rbdhardmaxclonedepth must be 1 to 14"),
        (["--rbdhardmaxclonedepth=4", "--rbdsoftmaxclonedepth=5"], "--rbdsoftmaxclonedepth must be 1 to --rbdhardmaxclonedepth (4)"),
        (["--maxsnapshotsonimage=501"], "--maxsnapshotsonimage must be 1 to 500"),
        (["--maxsnapshotsonimage=100", "--minsnapshotsonimage=200"], "--minsnapshotsonimage must be 1 to --maxsnapshotsonimage (100)"),
    ])
    func cloneLimitsOutOfRangeAreRefused(flags: [String], message: String) async throws {
        let process = try Self.launch(["--controllerserver=true", "--endpoint=unix:///tmp/rbdcsi-never.sock"] + flags)
        await process.exited()
        #expect(process.terminationStatus != 0)
        #expect(Self.stderr(of: process).contains(message))
    }

    @Test func badDriverNameIsRefused() async throws {
        let process = try Self.launch(["--nodeserver=true", "--nodeid=n1", "--drivername=Not_A_DNS_Name"])
        await process.exited()
        #expect(process.terminationStatus != 0)
        #expect(Self.stderr(of: process).contains("DNS-1123"))
    }

    @Test func sigtermStopsTheExecutableAndRemovesTheSocket() async throws {
        let directory = try TestPlugin.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/csi.sock"
        let first = try Self.launch(["--type=rbd", "--nodeserver=true", "--nodeid=n1", "--endpoint=unix://\(socket)", "--pidlimit=-1", "--v=5"])
        try await TestPlugin.waitForSocket(socket)

        // A second process on the same socket refuses to start and leaves the socket alone.
        let second = try Self.launch(["--nodeserver=true", "--nodeid=n2", "--endpoint=unix://\(socket)"])
        await second.exited()
        #expect(second.terminationStatus != 0)
        #expect(Self.stderr(of: second).contains("already serving"))
        #expect(FileManager.default.fileExists(atPath: socket))
        #expect(first.isRunning)

        first.terminate()  // SIGTERM
        await first.exited()
        #expect(first.terminationReason == .exit)
        #expect(first.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: socket))
    }
}
