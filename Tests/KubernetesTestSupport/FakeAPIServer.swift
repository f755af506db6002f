import Foundation
import HostOperations
import KubernetesAccess

/// `scripts/fake-kube-apiserver` over the recorded objects in `KubernetesAccessTests/Fixtures/`
/// (or a directory a test writes), on TLS with a test CA made by `scripts/make-test-ca`,
/// checking a bearer token. Shared by the tests of the client and of the plugin.
public final class FakeAPIServer: Sendable {
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    public static let fixtures = repository + "/Tests/KubernetesAccessTests/Fixtures"
    public static let token = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.test-token"

    public let directory: String
    public let process: Process
    public let port: Int

    /// Starts a server; `root` holds the objects it serves (default: the recorded fixtures).
    public init(root: String = FakeAPIServer.fixtures) async throws {
        directory = "/tmp/rbdcsi-kube-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = try await ProcessRunner().runChecked(Command(Self.repository + "/scripts/make-test-ca", [directory], timeout: .seconds(60)))
        try Self.token.write(toFile: directory + "/token", atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.repository + "/scripts/fake-kube-apiserver")
        process.arguments = [
            root, "--token", Self.token, "--cert", directory + "/server.crt", "--key", directory + "/server.key",
            "--port-file", directory + "/port", "--log", directory + "/requests.log",
        ]
        try process.run()
        var port: Int?
        for _ in 0..<300 where port == nil {
            port = (try? String(contentsOfFile: directory + "/port", encoding: .utf8)).flatMap { Int($0) }
            if port == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        guard let port else {
            process.terminate()
            throw KubernetesError.notConfigured("fake API server did not start")
        }
        self.port = port
    }

    /// The client configuration: this server, its CA (or `caFile`), and the token file.
    public func config(caFile: String? = nil, tokenFile: String? = nil) -> KubernetesConfig {
        KubernetesConfig(server: "https://127.0.0.1:\(port)", caFile: caFile ?? directory + "/ca.crt", tokenFile: tokenFile ?? directory + "/token")
    }

    /// The paths requested so far.
    public var requests: [String] {
        ((try? String(contentsOfFile: directory + "/requests.log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    public func stop() {
        // SIGKILL: the test process may pass SIGTERM on ignored or blocked.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
