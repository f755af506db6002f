import CSIProtocol
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import HostOperations
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `--metricsport`: the plugin executable (node and controller) scraped during a real rbd-fuse
/// lifecycle; the text is parsed by the Prometheus Python client's parser (`scripts/parse-metrics`).
@Suite("Metrics: Prometheus scrape of a plugin process", .enabled(if: CephTestCluster.isConfigured))
struct MetricsE2ETests {
    /// One parsed sample.
    struct Sample: Decodable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// A TCP port nothing listens on now (bound to 0 and released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TestFailure("bind: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func get(_ url: String) async throws -> (status: Int, body: String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// The scrape at `url`, parsed by the reference parser (a parse error fails the test).
    static func scrape(_ url: String) async throws -> [Sample] {
        let (status, text) = try await get(url)
        #expect(status == 200)
        let result = try await ProcessRunner().runChecked(
            Command("/opt/rbdcsi-tools/bin/python3", [repository + "/scripts/parse-metrics"], timeout: .seconds(30), standardInput: Array(text.utf8))
        )
        return try result.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Sample.self, from: Data($0.utf8)) }
    }

    static func value(_ samples: [Sample], _ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matching = samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
        return matching.isEmpty ? nil : matching.reduce(0) { $0 + $1.value }
    }

    /// Which of the shared libraries `names` (sonames, version suffixes allowed) are mapped
    /// into process `pid`.
    static func mappedLibraries(of pid: Int32, among names: [String]) throws -> [String] {
        let maps = try FileText.read("/proc/\(pid)/maps")
        let files = Set(maps.split(separator: "\n").compactMap { $0.split(separator: " ", omittingEmptySubsequences: true).last.map(String.init) })
        return names.filter { name in files.contains { $0.hasSuffix("/" + name) || $0.contains("/" + name + ".") } }
    }

    /// The sonames of librados and librbd mapped into process `pid`.
    static func cephLibraries(of pid: Int32) throws -> [String] {
        try mappedLibraries(of: pid, among: ["librados.so.2", "librbd.so.1"])
    }

    /// Foundation's full library and ICU's (about 8 MiB of the idle plugin before issue 15):
    /// the plugin uses FoundationEssentials only, and no dependency may bring them back.
    static let foundationLibraries = ["libFoundation.so", "libFoundationInternationalization.so", "lib_FoundationICU.so"]

    @Test func lifecycleIsCountedByMethodAndCode() async throws {
        let directory = try TestPlugin.makeDirectory()
        try CephTestCluster.writeConfig(in: directory)
        let port = try Self.freePort()
        let url = "http://127.0.0.1:\(port)/metrics"
        let socket = directory + "/csi.sock"
        let process = try ProcessLifecycleTests.launch([
            "--nodeserver=true", "--controllerserver=true", "--nodeid=metrics-node", "--endpoint=unix://\(socket)",
            "--statedir=\(directory)/state", "--cluster-config=\(directory)/config.json", "--metricsport=\(port)",
        ])
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        try await TestPlugin.waitForSocket(socket)
        let image = try await CephTestCluster.createImage()
        let plugin = TestPlugin(directory: directory, endpoint: .init(socketPath: socket))
        let paths = try VolumePaths(plugin: plugin, volumeID: image)
        let capability = CephTestCluster.mountCapability()

        try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { client in
            let node = Csi_V1_Node.Client(wrapping: client)
            let before = try await Self.scrape(url)
            #expect(Self.value(before, "rbdcsi_volumes_staged", ["mounter": "rbd-fuse"]) == 0)
            #expect(Self.value(before, "csi_liveness") == 1)
            // librados and librbd are not loaded until the first Ceph call (issue 15: idle memory).
            #expect(try Self.cephLibraries(of: process.processIdentifier) == [])
            #expect(try Self.mappedLibraries(of: process.processIdentifier, among: Self.foundationLibraries) == [])

            _ = try await node.nodeStageVolume(paths.stageRequest(capability))
            let loaded = try Self.cephLibraries(of: process.processIdentifier)
            #expect(loaded == ["librados.so.2", "librbd.so.1"], "\(loaded)")
            // Nor does librados bring them (it is C++, with no Swift in it).
            #expect(try Self.mappedLibraries(of: process.processIdentifier, among: Self.foundationLibraries) == [])
            _ = try await node.nodePublishVolume(paths.publishRequest(capability, target: "a"))
            _ = try await node.nodeGetVolumeStats(.with { $0.volumeID = image; $0.volumePath = paths.target("a") })
            let staged = try await Self.scrape(url)
            #expect(Self.value(staged, "rbdcsi_volumes_staged", ["mounter": "rbd-fuse"]) == 1)
            #expect(Self.value(staged, "rbdcsi_volumes_staged", ["mounter": "krbd"]) == 0)

            _ = try await node.nodeUnpublishVolume(paths.unpublishRequest(target: "a"))
            _ = try await node.nodeUnstageVolume(paths.unstageRequest)
            // An error moves the error's counter, not OK's.
            var bad = paths.stageRequest(capability)
            bad.volumeID = ""
            await #expect(throws: RPCError.self) { _ = try await node.nodeStageVolume(bad) }
            #expect(try CephTestCluster.leftovers(under: directory).isEmpty)

            let after = try await Self.scrape(url)
            #expect(Self.value(after, "rbdcsi_volumes_staged", ["mounter": "rbd-fuse"]) == 0)
            for method in ["NodeStageVolume", "NodePublishVolume", "NodeGetVolumeStats", "NodeUnpublishVolume", "NodeUnstageVolume"] {
                #expect(Self.value(after, "rbdcsi_rpc_requests_total", ["method": method, "code": "OK"]) == 1, "\(method)")
            }
            #expect(Self.value(after, "rbdcsi_rpc_requests_total", ["method": "NodeStageVolume", "code": "INVALID_ARGUMENT"]) == 1)
            // Every call is in its method's histogram, with the right count and a real duration.
            #expect(Self.value(after, "rbdcsi_rpc_duration_seconds_count", ["method": "NodeStageVolume"]) == 2)
            #expect((Self.value(after, "rbdcsi_rpc_duration_seconds_sum", ["method": "NodeStageVolume"]) ?? 0) > 0.001)
            #expect(Self.value(after, "rbdcsi_rpc_duration_seconds_bucket", ["method": "NodeUnstageVolume", "le": "+Inf"]) == 1)
            // The children the stage ran, by program (never by argument).
            #expect((Self.value(after, "rbdcsi_child_processes_total", ["command": "rbd-fuse"]) ?? 0) >= 1)
            #expect((Self.value(after, "rbdcsi_child_processes_total", ["command": "mount"]) ?? 0) >= 1)
            #expect(Self.value(after, "rbdcsi_child_process_timeouts_total") == nil)
            // The stage read the image through librados: one connect, then calls on it.
            #expect(Self.value(after, "rbdcsi_ceph_call_duration_seconds_count", ["kind": "connect"]) == 1)
            #expect((Self.value(after, "rbdcsi_ceph_call_duration_seconds_count", ["kind": "call"]) ?? 0) >= 1)
            #expect(Self.value(after, "rbdcsi_ceph_call_timeouts_total") == nil)
            #expect(!after.contains { $0.labels.values.contains { $0.contains(image) } })
            #expect(Self.value(after, "rbdcsi_build_info") == 1)

            // Anything but the metrics path is 404.
            #expect(try await Self.get("http://127.0.0.1:\(port)/other").status == 404)
        }
        // SIGTERM with a librados connection open: the connection is shut down before the
        // process exits, which then exits 0 (exiting under librados' threads crashed it).
        process.terminate()
        await process.exited()
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
    }
}
