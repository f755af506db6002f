import ArgumentParser
import CSIProtocol
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix

/// `rbdcsi-bench`: how fast and how small the node plugin is, against the local Ceph cluster
/// with the rbd-fuse mounter. Prints a table and writes JSON. Run it through `scripts/bench`.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rbdcsi-bench")

    @Option(help: "The rbdcsi binary to measure (a release build).")
    var plugin: String = ".build/release/rbdcsi"

    @Option(help: "The shell-floor script (scripts/bench-floor).")
    var floor: String = "scripts/bench-floor"

    @Option(help: "Work directory (staging paths, plugin state).")
    var work: String = "/tmp/rbdcsi-bench"

    @Option(help: "Where to write the JSON results.")
    var output: String = "bench-results.json"

    @Option(help: "Cycles for the overhead benchmark.") var cycles = 20
    @Option(help: "Runs per parallel staging size.") var parallelRuns = 5
    @Option(help: "Calls per control-plane method.") var calls = 2000
    @Option(help: "Volumes staged during the control-plane benchmark.") var volumes = 50
    @Option(help: "Plugin starts for the start-up benchmark.") var starts = 10
    @Option(help: "Sequential CreateVolume+DeleteVolume pairs.") var provisionRuns = 30
    @Option(help: "Snapshot + restore rounds on a 1 GiB volume with 100 MiB written.") var snapshotRuns = 10
    @Option(help: "Python with grpcio, for the NodeGetCapabilities baseline (none: skipped).") var python: String?
    @Option(help: "The baseline server (scripts/bench-grpcio-server).") var grpcioServer = "scripts/bench-grpcio-server"
    @Option(help: "The C-core client run against both servers (scripts/bench-grpcio-client).") var grpcioClient = "scripts/bench-grpcio-client"
    @Option(help: "Another build of the plugin whose idle resident set is reported too (scripts/bench: the dynamically linked one).")
    var idleAlso: String?
    @Option(help: "Run only these phases (comma-separated: startup, idle, provisioning, snapshots, cycle, parallel, control, hung, grpcio), to look at one closely.")
    var only: String?

    /// Whether phase `name` runs.
    private func runs(_ name: String) -> Bool {
        guard let only else { return true }
        return only.split(separator: ",").contains { $0 == name }
    }

    func run() async throws {
        let setup = try BenchSetup(work: work)
        var results: [String: Any] = ["machine": Self.machine(), "date": ISO8601DateFormatter().string(from: Date())]

        // 5. Start-up: process start to the first successful Probe.
        var startup = Samples()
        for index in 0..<(runs("startup") ? starts : 0) {
            let process = try PluginProcess(binary: plugin, directory: "\(work)/start-\(index)", clusterConfig: setup.clusterConfig)
            try await process.start()
            startup.append(process.startup)
            process.stop()
        }
        if runs("startup") { results["startup_to_probe"] = startup.summary() }

        let process = try PluginProcess(binary: plugin, directory: "\(work)/plugin", clusterConfig: setup.clusterConfig)
        try await process.start()
        defer { process.stop() }
        results["plugin_binary"] = plugin
        // 4. Memory: idle, 5 s after start (issue 15's measure), nothing staged yet.
        if runs("idle") {
            try await Task.sleep(for: .seconds(5))
            results["idle_rss_mib"] = process.memory.rss
        }
        if let idleAlso, runs("idle") {
            let other = try PluginProcess(binary: idleAlso, directory: "\(work)/idle-also", clusterConfig: setup.clusterConfig)
            try await other.start()
            try await Task.sleep(for: .seconds(5))
            results["idle_rss_mib_also"] = ["binary": idleAlso, "mib": other.memory.rss]
            other.stop()
        }

        try await withGRPCClient(
            transport: .http2NIOPosix(target: .unixDomainSocket(path: process.socket), transportSecurity: .plaintext)
        ) { client in
            let benchmarks = Benchmarks(
                setup: setup, plugin: process, node: Csi_V1_Node.Client(wrapping: client),
                controller: Csi_V1_Controller.Client(wrapping: client), floorScript: floor
            )
            if runs("provisioning") {
                print("provisioning …")
                results["provisioning"] = try await benchmarks.provisioning(runs: provisionRuns, concurrent: 16, batches: 5)
            }
            if runs("snapshots") {
                print("snapshots …")
                results["snapshots"] = try await benchmarks.snapshots(runs: snapshotRuns)
            }
            if runs("cycle") {
                print("cycle overhead …")
                results["cycle"] = try await benchmarks.cycle(runs: cycles)
            }
            if runs("parallel") {
                print("parallel staging …")
                results["parallel_stage"] = try await benchmarks.parallel(counts: [1, 4, 16], runs: parallelRuns)
            }
            if runs("control") {
                print("control plane …")
                results["control_plane"] = try await benchmarks.controlPlane(volumeCount: volumes, calls: calls, callers: 4)
            }
            if runs("hung") {
                print("a hung mount …")
                results["hung_mount"] = try await benchmarks.hungMount(calls: 400, identity: Csi_V1_Identity.Client(wrapping: client))
            }
            if let python, runs("grpcio") {
                print("NodeGetCapabilities against Python grpcio …")
                results["grpcio_baseline"] = try await benchmarks.grpcioBaseline(calls: calls, python: python, server: grpcioServer, client: grpcioClient)
            }
        }
        results["final_rss_mib"] = process.memory.rss
        let json = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
        try json.write(to: URL(fileURLWithPath: output))
        print(BenchTable.render(results))
        print("JSON: \(output)")
    }

    static func machine() -> [String: Any] {
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "?"
        var name = utsname()
        uname(&name)
        let kernel = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return ["cpu": cpu, "cores": ProcessInfo.processInfo.activeProcessorCount,
                "memory_gib": Double(ProcessInfo.processInfo.physicalMemory) / Double(1 << 30), "kernel": kernel]
    }
}
