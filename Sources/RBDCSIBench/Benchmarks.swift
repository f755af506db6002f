import CSIProtocol
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import HostOperations

/// The benchmarks of issue 6, each returning its JSON section.
struct Benchmarks {
    let setup: BenchSetup
    let plugin: PluginProcess
    let node: Csi_V1_Node.Client<HTTP2ClientTransport.Posix>
    let controller: Csi_V1_Controller.Client<HTTP2ClientTransport.Posix>
    let floorScript: String

    /// 1. The full cycle through gRPC versus the same commands in a shell script, interleaved.
    func cycle(runs: Int) async throws -> [String: Any] {
        let volume = try await setup.volumes("bench-cycle", count: 1)[0]
        _ = try await node.nodeStageVolume(volume.stage)  // formats once
        _ = try await node.nodeUnstageVolume(volume.unstage)
        let keyFile = setup.work + "/floor.key"
        try setup.key.write(toFile: keyFile, atomically: true, encoding: .utf8)
        let floor = Command(floorScript, [setup.pool, volume.image, setup.monitor, setup.user, keyFile, setup.work + "/floor"], timeout: .seconds(120))
        var plugin = Samples()
        var shell = Samples()
        for _ in 0..<runs {
            plugin.append(try await measure {
                _ = try await node.nodeStageVolume(volume.stage)
                _ = try await node.nodePublishVolume(volume.publish)
                _ = try await node.nodeUnpublishVolume(volume.unpublish)
                _ = try await node.nodeUnstageVolume(volume.unstage)
            })
            shell.append(try await measure { try await setup.runner.runChecked(floor) })
        }
        return [
            "plugin": plugin.summary(), "shell_floor": shell.summary(),
            "ratio_median": plugin.median / shell.median, "ratio_p95": plugin.p95 / shell.p95,
        ]
    }

    /// 6. CreateVolume + DeleteVolume through the controller (journal, image, and back):
    /// one pair after another, and `concurrent` pairs at once (wall time of the batch).
    func provisioning(runs: Int, concurrent: Int, batches: Int) async throws -> [String: Any] {
        let secrets = ["userID": setup.user, "userKey": setup.key]
        let parameters = ["clusterID": BenchSetup.clusterID, "pool": setup.pool, "imageFeatures": "layering"]
        @Sendable func pair(_ name: String) async throws {
            let created = try await controller.createVolume(.with {
                $0.name = name
                $0.capacityRange = .with { $0.requiredBytes = 1 << 30 }
                $0.volumeCapabilities = [.with { $0.mount = .init(); $0.accessMode.mode = .singleNodeWriter }]
                $0.parameters = parameters
                $0.secrets = secrets
            })
            _ = try await controller.deleteVolume(.with { $0.volumeID = created.volume.volumeID; $0.secrets = secrets })
        }
        try await pair("bench-warm-up")
        var sequential = Samples()
        for index in 0..<runs { sequential.append(try await measure { try await pair("bench-seq-\(index)") }) }
        var batch = Samples()
        for run in 0..<batches {
            batch.append(try await measure {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<concurrent { group.addTask { try await pair("bench-par-\(run)-\(index)") } }
                    try await group.waitForAll()
                }
            })
        }
        var parallel: [String: Any] = batch.summary()
        parallel["pairs"] = concurrent
        parallel["pairs_per_second"] = Double(concurrent) / (batch.median / 1000)
        return ["create_delete_sequential": sequential.summary(), "create_delete_concurrent": parallel]
    }

    /// 7. Snapshots of a 1 GiB volume with 100 MiB written: CreateSnapshot, and a restore
    /// (CreateVolume from the snapshot, then NodeStageVolume) until its filesystem is mounted.
    func snapshots(runs: Int) async throws -> [String: Any] {
        let secrets = ["userID": setup.user, "userKey": setup.key]
        let parameters = ["clusterID": BenchSetup.clusterID, "pool": setup.pool, "imageFeatures": "layering", "mounter": "rbd-fuse"]
        func create(_ name: String, from source: Csi_V1_VolumeContentSource? = nil) async throws -> Csi_V1_Volume {
            try await controller.createVolume(.with {
                $0.name = name
                $0.capacityRange = .with { $0.requiredBytes = 1 << 30 }
                $0.volumeCapabilities = [BenchVolume.capability]
                $0.parameters = parameters
                $0.secrets = secrets
                if let source { $0.volumeContentSource = source }
            }).volume
        }
        func staging(_ volume: Csi_V1_Volume, _ name: String) throws -> (Csi_V1_NodeStageVolumeRequest, Csi_V1_NodeUnstageVolumeRequest) {
            let path = "\(setup.work)/staging/\(name)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let stage = Csi_V1_NodeStageVolumeRequest.with {
                $0.volumeID = volume.volumeID
                $0.stagingTargetPath = path
                $0.volumeCapability = BenchVolume.capability
                $0.secrets = secrets
                $0.volumeContext = volume.volumeContext
            }
            return (stage, .with { $0.volumeID = volume.volumeID; $0.stagingTargetPath = path })
        }
        let source = try await create("bench-snap-source")
        let (stageSource, unstageSource) = try staging(source, "bench-snap-source")
        _ = try await node.nodeStageVolume(stageSource)
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: { _ = FileManager.default.createFile(atPath: $0, contents: nil); return $0 }("\(stageSource.stagingTargetPath)/\(source.volumeID)/data")))
        let chunk = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        for _ in 0..<100 { try file.write(contentsOf: chunk) }
        try file.synchronize()
        try file.close()
        _ = try await node.nodeUnstageVolume(unstageSource)

        var snapshotting = Samples()
        var restoring = Samples()
        for run in 0..<runs {
            var snapshot = Csi_V1_Snapshot()
            snapshotting.append(try await measure {
                snapshot = try await controller.createSnapshot(.with {
                    $0.name = "bench-snapshot-\(run)"
                    $0.sourceVolumeID = source.volumeID
                    $0.parameters = ["clusterID": BenchSetup.clusterID, "pool": setup.pool]
                    $0.secrets = secrets
                }).snapshot
            })
            var restored = Csi_V1_Volume()
            var unstage = Csi_V1_NodeUnstageVolumeRequest()
            restoring.append(try await measure {
                restored = try await create("bench-restore-\(run)", from: .with { $0.snapshot.snapshotID = snapshot.snapshotID })
                let (stage, unstageRequest) = try staging(restored, "bench-restore-\(run)")
                unstage = unstageRequest
                _ = try await node.nodeStageVolume(stage)
            })
            _ = try await node.nodeUnstageVolume(unstage)
            _ = try await controller.deleteVolume(.with { $0.volumeID = restored.volumeID; $0.secrets = secrets })
            _ = try await controller.deleteSnapshot(.with { $0.snapshotID = snapshot.snapshotID; $0.secrets = secrets })
        }
        _ = try await controller.deleteVolume(.with { $0.volumeID = source.volumeID; $0.secrets = secrets })
        return ["create_snapshot": snapshotting.summary(), "restore_to_staged": restoring.summary(), "volume_gib": 1, "written_mib": 100]
    }

    /// 2. N volumes staged at once; wall time against N × the single-volume time.
    func parallel(counts: [Int], runs: Int) async throws -> [String: Any] {
        let volumes = try await setup.volumes("bench-par", count: counts.max() ?? 1)
        try await stageAll(volumes)  // formats once
        try await unstageAll(volumes)
        plugin.resetPeak()
        var result: [String: Any] = [:]
        var single = Double.nan
        for count in counts {
            var samples = Samples()
            for _ in 0..<runs {
                let chosen = Array(volumes.prefix(count))
                samples.append(try await measure { try await stageAll(chosen) })
                try await unstageAll(chosen)
            }
            if count == 1 { single = samples.median }
            var entry: [String: Any] = samples.summary()
            entry["ratio_to_n_times_single"] = samples.median / (Double(count) * single)
            result["n\(count)"] = entry
        }
        result["peak_rss_mib"] = plugin.memory.peak
        return result
    }

    /// How long the staged volumes are left alone before the control-plane calls are timed.
    /// Each new volume was just formatted with ceph-csi's `lazy_itable_init=1`: for the first
    /// seconds after its mount, ext4 zeroes its inode tables and commits its journal through
    /// loop, rbd-fuse and the OSD, and 50 of them at once keep both vCPUs busy. Timed at once,
    /// that background writing set the p99 (NodeGetCapabilities: 4.1 to 4.7 ms, against 1.6 ms
    /// ten seconds later); the rows are meant to time the plugin with 50 volumes staged.
    static let settle = Duration.seconds(10)

    /// 3. NodeGetCapabilities and NodeGetVolumeStats latency with `volumeCount` volumes staged
    /// (after `settle`), and calls per second with `callers` concurrent callers.
    func controlPlane(volumeCount: Int, calls: Int, callers: Int) async throws -> [String: Any] {
        // The same call with nothing staged: the RPC path alone, without 50 rbd-fuse daemons.
        var baseline = Samples()
        for _ in 0..<calls { baseline.append(try await measure { _ = try await node.nodeGetCapabilities(.init()) }) }
        let volumes = try await setup.volumes("bench-cp", count: volumeCount)
        for batch in stride(from: 0, to: volumes.count, by: 10) {
            try await stageAll(Array(volumes[batch..<min(batch + 10, volumes.count)]))
        }
        plugin.resetPeak()
        try await Task.sleep(for: Self.settle)
        for index in 0..<200 { _ = try await node.nodeGetVolumeStats(volumes[index % volumes.count].stats) }  // warm-up

        var capabilities = Samples()
        for _ in 0..<calls { capabilities.append(try await measure { _ = try await node.nodeGetCapabilities(.init()) }) }
        var stats = Samples()
        let before = plugin.work
        for index in 0..<calls {
            let request = volumes[index % volumes.count].stats
            stats.append(try await measure {
                let response = try await node.nodeGetVolumeStats(request)
                guard !response.volumeCondition.abnormal else { throw BenchError("volume abnormal: \(response.volumeCondition.message)") }
            })
        }
        let after = plugin.work
        let statsWork: [String: Double] = [
            "plugin_cpu_us_per_call": (after.cpu - before.cpu) / .microseconds(1) / Double(calls),
            "plugin_context_switches_per_call": Double(after.switches - before.switches) / Double(calls),
        ]
        let capabilitiesRate = try await rate(callers: callers) { _ in _ = try await node.nodeGetCapabilities(.init()) }
        let statsRate = try await rate(callers: callers) { index in _ = try await node.nodeGetVolumeStats(volumes[index % volumes.count].stats) }
        let peak = plugin.memory.peak
        try await unstageAll(volumes)
        return [
            "volumes": volumeCount,
            "NodeGetCapabilities_nothing_staged": baseline.summary(p99: true),
            "NodeGetCapabilities": capabilities.summary(p99: true).merging(["calls_per_second": capabilitiesRate]) { $1 },
            "NodeGetVolumeStats": stats.summary(p99: true).merging(["calls_per_second": statsRate]) { $1 }.merging(statsWork) { $1 },
            "callers": callers, "peak_rss_mib": peak, "settle_seconds": Self.settle.components.seconds,
        ]
    }

    /// Calls per second with `callers` concurrent loops over 3 seconds.
    private func rate(callers: Int, _ call: @escaping @Sendable (Int) async throws -> Void) async throws -> Double {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(3)
        let start = clock.now
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for caller in 0..<callers {
                group.addTask {
                    var count = 0
                    while clock.now < deadline {
                        try await call(caller * 1000 + count)
                        count += 1
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        return Double(total) / (clock.now - start).milliseconds * 1000
    }

    private func stageAll(_ volumes: [BenchVolume]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for volume in volumes { group.addTask { _ = try await node.nodeStageVolume(volume.stage) } }
            try await group.waitForAll()
        }
    }

    private func unstageAll(_ volumes: [BenchVolume]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for volume in volumes { group.addTask { _ = try await node.nodeUnstageVolume(volume.unstage) } }
            try await group.waitForAll()
        }
    }
}
