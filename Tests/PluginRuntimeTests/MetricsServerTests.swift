import Foundation
import HostOperations
import Logging
import ServiceLifecycle
import Testing

@testable import PluginRuntime

#if canImport(Glibc)
import Glibc
#endif

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite("Metrics: HTTP endpoint, swift-metrics backend, Go durations")
struct MetricsServerTests {
    /// The one Prometheus backend of this test process (swift-metrics is bootstrapped once per
    /// process). Other suites record into it too: each test reads only series it alone makes.
    static let shared: PluginMetrics = {
        let metrics = PluginMetrics(sources: nil, version: "test")
        metrics.bootstrapSwiftMetrics()
        return metrics
    }()

    static func text(_ metrics: PluginMetrics) async -> String {
        String(decoding: await metrics.render(), as: UTF8.self)
    }

    @Test func childProcessTimeoutsAreCountedByProgramName() async throws {
        let metrics = Self.shared
        let directory = "/tmp/rbdcsi-metrics-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let program = "sleep-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createSymbolicLink(atPath: directory + "/" + program, withDestinationPath: "/bin/sleep")
        let runner = ProcessRunner()
        _ = try await runner.run(Command(directory + "/" + program, ["0"], timeout: .seconds(10)))
        await #expect(throws: CommandError.self) {
            _ = try await runner.run(Command(directory + "/" + program, ["10"], timeout: .milliseconds(200)))
        }
        let text = await Self.text(metrics)
        #expect(text.contains("rbdcsi_child_processes_total{command=\"\(program)\"} 2\n"))
        #expect(text.contains("rbdcsi_child_process_timeouts_total{command=\"\(program)\"} 1\n"))
        // The label is the program's name, never its directory or arguments.
        #expect(!text.contains(directory))
    }

    @Test func livenessGaugeFollowsTheProber() async {
        let metrics = PluginMetrics(sources: nil, version: "test")
        metrics.setLiveness(true)
        #expect(await Self.text(metrics).contains("\ncsi_liveness 1.0\n"))
        metrics.setLiveness(false)
        #expect(await Self.text(metrics).contains("\ncsi_liveness 0.0\n"))
    }

    static func request(_ method: String, _ url: String) async throws -> (Int, String, [AnyHashable: Any]) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        return (http?.statusCode ?? 0, String(decoding: data, as: UTF8.self), http?.allHeaderFields ?? [:])
    }

    /// Runs a metrics server of `version` on a free port at `path` for `body`, which gets its
    /// port and the group to shut it down with.
    static func withServer(version: String, path: String, _ body: (Int, ServiceGroup) async throws -> Void) async throws {
        let metrics = PluginMetrics(sources: nil, version: version)
        let server = MetricsServer(host: "127.0.0.1", port: 0, path: path, metrics: metrics, logger: Logger(label: "test"))
        let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var port: Int?
            for _ in 0..<200 where port == nil {
                port = await server.listeningPort
                if port == nil { try await Task.sleep(for: .milliseconds(10)) }
            }
            try await body(try #require(port), group)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func serverAnswersOnlyItsPathAndStopsPromptly() async throws {
        var stopped: ContinuousClock.Instant?
        try await Self.withServer(version: "9.9.9", path: "/custom/metrics") { port, _ in
            let base = "http://127.0.0.1:\(port)"
            let (status, body, headers) = try await Self.request("GET", base + "/custom/metrics")
            #expect(status == 200)
            #expect(body.contains("rbdcsi_build_info{version=\"9.9.9\"} 1.0"))
            #expect((headers["Content-Type"] as? String)?.hasPrefix("text/plain; version=0.0.4") == true)
            #expect(try await Self.request("GET", base + "/custom/metrics?x=1").0 == 200)
            #expect(try await Self.request("GET", base + "/metrics").0 == 404)
            #expect(try await Self.request("POST", base + "/custom/metrics").0 == 405)
            stopped = .now
        }
        // The keep-alive connection URLSession holds open does not delay the shutdown (it
        // would hold it for the 10 s connection limit; the bound leaves room for a loaded machine).
        #expect(ContinuousClock.now - (try #require(stopped)) < .seconds(7))
    }

    /// Issue 27, item 8: 40 connections that never send a request stalled scrapes for ~9 s.
    @Test func halfOpenConnectionsDoNotLockScrapesOut() async throws {
        try await Self.withServer(version: "9.9.8", path: "/metrics") { port, _ in
            let silent = try (0..<40).map { _ in try Self.connect(port: port) }
            defer { silent.forEach { close($0) } }
            try await Task.sleep(for: .milliseconds(200))
            let start = ContinuousClock.now
            let (status, body, _) = try await Self.request("GET", "http://127.0.0.1:\(port)/metrics")
            #expect(status == 200)
            #expect(body.contains("rbdcsi_build_info"))
            // Before, the scrape waited for a slot until a silent connection timed out (10 s).
            #expect(ContinuousClock.now - start < .seconds(5))
        }
    }

    /// A TCP connection to the port that sends nothing.
    static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw TestError("connect failed: errno \(errno)") }
        return fd
    }

    struct TestError: Error { var text: String; init(_ text: String) { self.text = text } }

    @Test(arguments: [
        ("60s", Duration.seconds(60)), ("3s", .seconds(3)), ("1m30s", .seconds(90)), ("250ms", .milliseconds(250)),
        ("1.5s", .milliseconds(1500)), ("2h", .seconds(7200)), ("0", .zero), ("10us", .microseconds(10)),
    ])
    func goDurationsParse(text: String, expected: Duration) {
        #expect(GoDuration.parse(text) == expected)
    }

    @Test(arguments: ["", "60", "s", "-1s", "1x", "1s2", "abc"])
    func badGoDurationsAreRefused(text: String) {
        #expect(GoDuration.parse(text) == nil)
    }
}
