import Foundation

/// The short human-readable table of a result set.
enum BenchTable {
    static func render(_ results: [String: Any]) -> String {
        func section(_ key: String) -> [String: Any] { results[key] as? [String: Any] ?? [:] }
        func stats(_ value: Any?) -> [String: Double] { value as? [String: Double] ?? (value as? [String: Any])?.compactMapValues { $0 as? Double } ?? [:] }
        func f(_ value: Double?, _ digits: Int = 1) -> String { value.map { String(format: "%.\(digits)f", $0) } ?? "-" }
        var lines = ["| measurement | median | p95 / p99 | other |", "| --- | --- | --- | --- |"]
        let cycle = section("cycle")
        let plugin = stats(cycle["plugin"]), floor = stats(cycle["shell_floor"])
        lines.append("| cycle through gRPC (stage→publish→unpublish→unstage) | \(f(plugin["median_ms"])) ms | \(f(plugin["p95_ms"])) ms | |")
        lines.append("| same commands from a shell script (floor) | \(f(floor["median_ms"])) ms | \(f(floor["p95_ms"])) ms | ratio \(f(cycle["ratio_median"] as? Double, 3)) |")
        let parallel = section("parallel_stage")
        for n in [1, 4, 16] {
            let entry = stats(parallel["n\(n)"])
            lines.append("| stage \(n) volume\(n == 1 ? "" : "s") at once (wall) | \(f(entry["median_ms"])) ms | \(f(entry["p95_ms"])) ms | \(f(entry["ratio_to_n_times_single"], 3)) × (N × single) |")
        }
        let control = section("control_plane")
        let idle = stats(control["NodeGetCapabilities_nothing_staged"])
        lines.append("| NodeGetCapabilities (nothing staged) | \(f(idle["median_ms"], 3)) ms | \(f(idle["p99_ms"], 3)) ms (p99) | |")
        for method in ["NodeGetCapabilities", "NodeGetVolumeStats"] {
            let entry = stats(control[method])
            lines.append("| \(method) (\(control["volumes"] ?? "?") volumes staged) | \(f(entry["median_ms"], 3)) ms | \(f(entry["p99_ms"], 3)) ms (p99) | \(f(entry["calls_per_second"], 0)) calls/s |")
        }
        let hung = section("hung_mount")
        for (key, label) in [("Probe_while_hung", "Probe while 4 stats calls hang on a stopped rbd-fuse"), ("other_volume_stats_while_hung", "another volume's stats meanwhile")] {
            let entry = stats(hung[key])
            lines.append("| \(label) | \(f(entry["median_ms"], 3)) ms | \(f(entry["p99_ms"], 3)) ms (p99) | |")
        }
        lines.append("| the hung stats calls (abnormal) | | | \(hung["hung_calls"] ?? "?") answered, slowest \(f(hung["hung_call_max_ms"] as? Double)) ms |")
        let baseline = section("grpcio_baseline")
        let ours = stats(baseline["rbdcsi"]), python = stats(baseline["python_grpcio"])
        lines.append("| NodeGetCapabilities, one caller: rbdcsi | \(f(ours["median_ms"], 3)) ms | \(f(ours["p99_ms"], 3)) ms (p99) | |")
        lines.append("| the same from a minimal Python grpcio server | \(f(python["median_ms"], 3)) ms | \(f(python["p99_ms"], 3)) ms (p99) | ratio \(f(baseline["median_ratio"] as? Double, 3)) |")
        let cCore = baseline["c_core_client"] as? [String: Any] ?? [:]
        let cOurs = stats(cCore["rbdcsi"]), cPython = stats(cCore["python_grpcio"])
        lines.append("| the same two from a C-core client (Python grpcio): rbdcsi | \(f(cOurs["median_ms"], 3)) ms | \(f(cOurs["p99_ms"], 3)) ms (p99) | |")
        lines.append("| … and the Python grpcio server | \(f(cPython["median_ms"], 3)) ms | \(f(cPython["p99_ms"], 3)) ms (p99) | ratio \(f(cCore["median_ratio"] as? Double, 3)) |")
        let provisioning = section("provisioning")
        let sequential = stats(provisioning["create_delete_sequential"])
        lines.append("| CreateVolume + DeleteVolume, one after another | \(f(sequential["median_ms"])) ms | \(f(sequential["p95_ms"])) ms | |")
        let concurrent = stats(provisioning["create_delete_concurrent"])
        lines.append("| 16 CreateVolume + DeleteVolume pairs at once (wall) | \(f(concurrent["median_ms"])) ms | \(f(concurrent["p95_ms"])) ms | \(f(concurrent["pairs_per_second"], 1)) pairs/s |")
        let snapshots = section("snapshots")
        let snapshot = stats(snapshots["create_snapshot"]), restore = stats(snapshots["restore_to_staged"])
        lines.append("| CreateSnapshot (1 GiB volume, 100 MiB written) | \(f(snapshot["median_ms"])) ms | \(f(snapshot["p95_ms"])) ms | |")
        lines.append("| restore: CreateVolume from that snapshot + NodeStageVolume | \(f(restore["median_ms"])) ms | \(f(restore["p95_ms"])) ms | |")
        let startup = stats(results["startup_to_probe"])
        lines.append("| start-up to first Probe | \(f(startup["median_ms"])) ms | \(f(startup["p95_ms"])) ms | |")
        let also = (results["idle_rss_mib_also"] as? [String: Any]).map { " (\($0["binary"] ?? "?"): \(f($0["mib"] as? Double)) MiB)" } ?? ""
        lines.append("| resident set | idle \(f(results["idle_rss_mib"] as? Double)) MiB\(also) | | peak \(f(parallel["peak_rss_mib"] as? Double)) MiB (parallel), \(f(control["peak_rss_mib"] as? Double)) MiB (control plane) |")
        return lines.joined(separator: "\n")
    }
}
