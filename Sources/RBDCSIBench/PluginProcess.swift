import CSIProtocol
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix

/// The release `rbdcsi` binary started as its own process on a fresh socket, as kubelet's
/// node-driver-registrar would find it; its resident set read from /proc.
final class PluginProcess: @unchecked Sendable {
    let process = Process()
    let socket: String
    /// Process start to the first successful Probe.
    private(set) var startup: Duration = .zero

    /// A plugin whose socket and state live in `directory`, made here if missing.
    init(binary: String, directory: String, clusterConfig: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        socket = directory + "/csi.sock"
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--nodeserver=true", "--controllerserver=true", "--nodeid=bench-node", "--endpoint=unix://\(socket)",
            "--cluster-config=\(clusterConfig)", "--statedir=\(directory)/state", "--log-level=warning",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/stderr")
    }

    /// Starts the plugin and waits for its first successful Probe (polling the socket file,
    /// then one Probe per attempt).
    func start() async throws {
        let clock = ContinuousClock()
        let begin = clock.now
        try process.run()
        while true {
            if FileManager.default.fileExists(atPath: socket), (try? await probe()) == true { break }
            guard clock.now - begin < .seconds(30), process.isRunning else { throw BenchError("the plugin did not answer Probe") }
            try await Task.sleep(for: .microseconds(200))
        }
        startup = clock.now - begin
    }

    private func probe() async throws -> Bool {
        try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { client in
            let response = try await Csi_V1_Identity.Client(wrapping: client).probe(.init())
            return response.ready.value
        }
    }

    /// VmRSS and VmHWM (peak) of the plugin in MiB.
    var memory: (rss: Double, peak: Double) {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Double {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return .nan }
            return (Double(line.split(separator: " ").dropFirst().first ?? "") ?? .nan) / 1024
        }
        return (field("VmRSS"), field("VmHWM"))
    }

    /// The plugin's CPU time (all threads, from schedstat, in nanoseconds) and its threads'
    /// context switches (voluntary and not) so far: two counters that the VM's noise moves far
    /// less than latency, read before and after a phase.
    var work: (cpu: Duration, switches: Int) {
        let tasks = "/proc/\(process.processIdentifier)/task"
        var nanoseconds = 0
        var switches = 0
        for task in (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? [] {
            let schedstat = (try? String(contentsOfFile: "\(tasks)/\(task)/schedstat", encoding: .utf8)) ?? ""
            nanoseconds += Int(schedstat.split(separator: " ").first ?? "") ?? 0
            let status = (try? String(contentsOfFile: "\(tasks)/\(task)/status", encoding: .utf8)) ?? ""
            for line in status.split(separator: "\n") where line.contains("ctxt_switches:") {
                switches += Int(line.split(separator: "\t").last ?? "") ?? 0
            }
        }
        return (.nanoseconds(nanoseconds), switches)
    }

    /// Resets the peak (VmHWM) to the current resident set, so a phase's peak can be read.
    func resetPeak() {
        try? "5".write(toFile: "/proc/\(process.processIdentifier)/clear_refs", atomically: false, encoding: .utf8)
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
