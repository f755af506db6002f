import CSIProtocol
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import HostOperations

extension Benchmarks {
    /// 8. A hung mount does not hold up other calls: the rbd-fuse daemon of one volume is
    /// stopped (SIGSTOP), four NodeGetVolumeStats calls on it wait for their time limit, and
    /// meanwhile Probe and the stats of another volume are timed. The hung calls must answer
    /// VolumeCondition abnormal within the health read limit (plus the RPC's own cost).
    func hungMount(calls: Int, identity: Csi_V1_Identity.Client<HTTP2ClientTransport.Posix>) async throws -> [String: Any] {
        let volumes = try await setup.volumes("bench-hung", count: 2)
        let (hung, healthy) = (volumes[0], volumes[1])
        for volume in volumes { _ = try await node.nodeStageVolume(volume.stage) }
        let daemons = ProcessTable.pids { argv in argv.first?.hasSuffix("rbd-fuse") == true && argv.contains(hung.image) }
        guard !daemons.isEmpty else { throw BenchError("no rbd-fuse daemon for \(hung.image)") }
        for pid in daemons { kill(pid, SIGSTOP) }
        // Past the 2 s health cache, so that the stats calls read the stopped device.
        try await Task.sleep(for: .seconds(3))

        var probe = Samples()
        var otherStats = Samples()
        let hungResults = try await withThrowingTaskGroup(of: (Duration, Bool, String).self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var condition = Csi_V1_VolumeCondition()
                    let duration = try await measure { condition = try await node.nodeGetVolumeStats(hung.stats).volumeCondition }
                    return (duration, condition.abnormal, condition.message)
                }
            }
            // Let the four calls reach the device first.
            try await Task.sleep(for: .milliseconds(100))
            for index in 0..<calls {
                if index % 2 == 0 {
                    probe.append(try await measure { _ = try await identity.probe(.init()) })
                } else {
                    otherStats.append(try await measure {
                        let response = try await node.nodeGetVolumeStats(healthy.stats)
                        guard !response.volumeCondition.abnormal else { throw BenchError("healthy volume abnormal: \(response.volumeCondition.message)") }
                    })
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for pid in daemons { kill(pid, SIGCONT) }
        for volume in volumes { _ = try await node.nodeUnstageVolume(volume.unstage) }
        guard hungResults.allSatisfy(\.1) else { throw BenchError("a stats call on the stopped volume answered healthy: \(hungResults)") }
        return [
            "Probe_while_hung": probe.summary(p99: true),
            "other_volume_stats_while_hung": otherStats.summary(p99: true),
            "hung_calls": hungResults.count,
            "hung_call_max_ms": hungResults.map(\.0.milliseconds).max() ?? 0,
            "hung_call_message": hungResults.first?.2 ?? "",
        ]
    }

    /// 9. NodeGetCapabilities from one sequential caller, against the plugin and against a
    /// minimal Python grpcio server answering the same bytes on a unix socket, interleaved in
    /// one run (issue 15: no slower than what a new user would try first). Then the same from
    /// a C-core client (`client`, Python grpcio), which costs less per call than the bench's
    /// grpc-swift client and so shows more of the servers' own cost.
    func grpcioBaseline(calls: Int, python: String, server: String, client clientScript: String) async throws -> [String: Any] {
        let response = try await node.nodeGetCapabilities(.init())
        let payload = setup.work + "/capabilities.bin"
        try Data(try response.serializedBytes() as [UInt8]).write(to: URL(fileURLWithPath: payload))
        let socket = setup.work + "/grpcio.sock"
        try? FileManager.default.removeItem(atPath: socket)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [server, socket, payload]
        try process.run()
        defer {
            // SIGKILL: a SIGTERM may be blocked in the child (inherited from this process).
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let (ours, theirs) = try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { client in
            let python = Csi_V1_Node.Client(wrapping: client)
            // Until the server answers: its socket file appears at bind(2), before it listens.
            var answer: Csi_V1_NodeGetCapabilitiesResponse?
            for _ in 0..<500 where answer == nil {
                answer = try? await python.nodeGetCapabilities(.init())
                if answer == nil { try await Task.sleep(for: .milliseconds(10)) }
            }
            guard answer == response else { throw BenchError("the grpcio server did not answer the plugin's capabilities: \(String(describing: answer))") }
            var ours = Samples()
            var theirs = Samples()
            for _ in 0..<200 {  // warm-up of both
                _ = try await node.nodeGetCapabilities(.init())
                _ = try await python.nodeGetCapabilities(.init())
            }
            for _ in 0..<calls {
                ours.append(try await measure { _ = try await node.nodeGetCapabilities(.init()) })
                theirs.append(try await measure { _ = try await python.nodeGetCapabilities(.init()) })
            }
            return (ours, theirs)
        }
        let cCore = try Self.runCCoreClient(python: python, script: clientScript, sockets: (plugin.socket, socket), calls: calls)
        return [
            "rbdcsi": ours.summary(p99: true), "python_grpcio": theirs.summary(p99: true), "median_ratio": ours.median / theirs.median,
            "c_core_client": cCore,
        ]
    }

    /// `script` against both sockets: rbdcsi's and Python's samples, summarized like the
    /// bench's own, and the ratio of their medians.
    private static func runCCoreClient(python: String, script: String, sockets: (rbdcsi: String, python: String), calls: Int) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, sockets.rbdcsi, sockets.python, "\(calls)"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let answer = try JSONSerialization.jsonObject(with: data) as? [String: [Double]],
              let ours = answer["a"].map(samples), let theirs = answer["b"].map(samples)
        else { throw BenchError("\(script) failed (status \(process.terminationStatus)): \(String(decoding: data, as: UTF8.self))") }
        return ["rbdcsi": ours.summary(p99: true), "python_grpcio": theirs.summary(p99: true), "median_ratio": ours.median / theirs.median]
    }

    private static func samples(_ milliseconds: [Double]) -> Samples {
        var samples = Samples()
        for value in milliseconds { samples.append(.nanoseconds(Int64(value * 1_000_000))) }
        return samples
    }
}
