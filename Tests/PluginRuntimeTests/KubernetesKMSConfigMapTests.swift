import CSIServices
import Foundation
import GRPCCore
import KubernetesAccess
import KubernetesTestSupport
import Testing

@testable import PluginRuntime

/// ceph-csi's KMS ConfigMap read through a (fake) Kubernetes API on every use, where the KMS
/// config file is not mounted.
@Suite("KMS ConfigMap: read through the API on each use")
struct KubernetesKMSConfigMapTests {
    @Test func eachUseReadsTheConfigMapAsItIsNow() async throws {
        let root = "/tmp/rbdcsi-kube-root-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = root + "/api/v1/namespaces/ceph-csi/configmaps"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let server = try await FakeAPIServer(root: root)
        defer { server.stop() }
        let client = try KubernetesClient(config: server.config(), limit: .seconds(5))
        do {
            try await check(KubernetesKMSConfigMap(client: client, name: "csi-kms-connection-details", namespace: "ceph-csi"), server: server, directory: directory)
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
    }

    private func check(_ configMap: KubernetesKMSConfigMap, server: FakeAPIServer, directory: String) async throws {
        let config = KMSConfig(path: "/nonexistent/rbdcsi-kms-config.json", fallback: configMap)
        func write(_ type: String) throws {
            let section = #"{\"encryptionKMSType\": \"\#(type)\"}"#
            try #"{"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "csi-kms-connection-details", "namespace": "ceph-csi"}, "data": {"k1": "\#(section)"}}"#
                .write(toFile: directory + "/csi-kms-connection-details.json", atomically: true, encoding: .utf8)
        }

        // Not there yet: no config, and the message says where it was looked for.
        #expect(try await configMap.sections() == nil)
        let missing = await #expect(throws: CSIError.self) { try await config.kms("k1") }
        #expect(missing?.code == .invalidArgument)
        #expect(missing?.message.contains("ConfigMap ceph-csi/csi-kms-connection-details") == true, "\(missing?.message ?? "")")

        // Created, then edited: each use sees the ConfigMap as it is then.
        try write("metadata")
        #expect(try await config.kms("k1").type == "metadata")
        try write("vault")
        #expect(try await config.kms("k1").type == "vault")
        #expect(server.requests.filter { $0.contains("/configmaps/csi-kms-connection-details") }.count == 4)

        // An API that does not answer is UNAVAILABLE: the sidecar retries. (Only the server
        // process ends: its token file stays.)
        kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
        let unreachable = await #expect(throws: CSIError.self) { try await config.kms("k1") }
        #expect(unreachable?.code == .unavailable)
    }
}
