import Foundation
import Testing

/// `rbdcsi --type=liveness`, as ceph-csi's `liveness-prometheus` container runs it: it probes a
/// plugin over its socket and serves `csi_liveness`.
@Suite("Plugin process: --type=liveness")
struct LivenessProcessTests {
    /// `csi_liveness` of the scrape at `url`, nil while nothing answers there.
    static func liveness(_ url: String) async -> Double? {
        guard let (status, text) = try? await MetricsE2ETests.get(url), status == 200 else { return nil }
        let line = text.split(separator: "\n").first { $0.hasPrefix("csi_liveness ") }
        return line.flatMap { Double($0.dropFirst("csi_liveness ".count)) }
    }

    /// Waits up to 10 s for `csi_liveness` to read `expected`.
    static func waitFor(_ expected: Double, at url: String) async throws -> Bool {
        for _ in 0..<100 {
            if await liveness(url) == expected { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    @Test func livenessFollowsThePluginsProbe() async throws {
        let directory = try TestPlugin.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/csi.sock"
        let port = try MetricsE2ETests.freePort()
        let url = "http://127.0.0.1:\(port)/metrics"
        let plugin = try ProcessLifecycleTests.launch(["--controllerserver=true", "--endpoint=unix://\(socket)", "--statedir=\(directory)/state"])
        let prober = try ProcessLifecycleTests.launch([
            "--type=liveness", "--endpoint=unix://\(socket)", "--metricsport=\(port)", "--polltime=200ms", "--timeout=1s",
        ])
        defer {
            for process in [plugin, prober] where process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
        #expect(try await Self.waitFor(1, at: url))
        // The plugin goes away: the gauge drops to 0 (and the prober keeps serving it).
        plugin.terminate()
        await plugin.exited()
        #expect(try await Self.waitFor(0, at: url))
        // SIGTERM stops the prober cleanly.
        prober.terminate()
        await prober.exited()
        #expect(prober.terminationStatus == 0)
    }

    @Test(arguments: [
        (["--polltime=soon"], "--polltime must be a positive Go duration"),
        (["--timeout=-3s"], "--timeout must be a positive Go duration"),
        (["--metricsport=70000"], "--metricsport must be 1 to 65535"),
        (["--metricspath=metrics"], "--metricspath must be an absolute HTTP path"),
    ])
    func badLivenessFlagsAreRefused(flags: [String], message: String) async throws {
        let process = try ProcessLifecycleTests.launch(["--type=liveness", "--endpoint=unix:///tmp/rbdcsi-never.sock"] + flags)
        await process.exited()
        #expect(process.terminationStatus != 0)
        #expect(ProcessLifecycleTests.stderr(of: process).contains(message))
    }
}
