import Foundation
import KubernetesTestSupport
import Testing

@testable import KubernetesAccess

/// The API client against a local HTTPS server serving recorded Kubernetes objects.
@Suite("Kubernetes API client (TLS, bearer token, recorded objects)")
struct KubernetesClientTests {
    static func withServer(_ body: (FakeAPIServer, KubernetesClient) async throws -> Void) async throws {
        let server = try await FakeAPIServer()
        defer { server.stop() }
        let client = try KubernetesClient(config: server.config(), limit: .seconds(1))
        do {
            try await body(server, client)
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
    }

    @Test func readsTheObjectsTheNodePluginNeeds() async throws {
        try await Self.withServer { server, client in
            let node = try await client.node(named: "node-1")
            #expect(node.metadata.labels?["topology.kubernetes.io/zone"] == "eu-west-1b")
            #expect(node.metadata.labels?["topology.rook.io/rack"] == "rack-7")

            let configMap = try await client.configMap("csi-kms-connection-details", namespace: "ceph-csi")
            #expect(configMap.data?["user-secret-metadata"]?.contains("\"encryptionKMSType\": \"metadata\"") == true)
            #expect(configMap.data?.count == 2)

            let secret = try await client.secret("csi-rbd-secret", namespace: "ceph-csi")
            #expect(secret.data["userID"] == "csi-node")
            #expect(secret.data["userKey"] == "AQB1rpVnAAAAABAAhj7Pt9BxF2wkDF8FfCxWgA==")

            let pv = try await client.persistentVolume(named: "pvc-5c3f0e4d-2b1a-4f6e-9d8c-7b6a5f4e3d2c")
            #expect(pv.spec.csi?.volumeHandle == "0001-0009-rook-ceph-0000000000000002-4b6e1d3a-9f2c-11ef-8c7d-0a580a810214")
            #expect(pv.spec.csi?.volumeAttributes?["mounter"] == "rbd-nbd")
            #expect(pv.spec.csi?.nodeStageSecretRef == SecretReference(name: "csi-rbd-secret", namespace: "ceph-csi"))
            #expect(pv.spec.accessModes == ["ReadWriteOnce"])
            #expect(pv.spec.mountOptions == ["discard"])
            #expect(pv.status?.phase == "Bound")

            let attachments = try await client.volumeAttachments()
            #expect(attachments.count == 3)
            #expect(attachments.filter { $0.spec.nodeName == "node-1" && $0.spec.attacher == "rbd.csi.ceph.com" }.map(\.spec.source.persistentVolumeName)
                == ["pvc-5c3f0e4d-2b1a-4f6e-9d8c-7b6a5f4e3d2c"])

            #expect(try await client.serverVersion().number == 1030)
            // Every request carried the token.
            #expect(server.requests.allSatisfy { $0.hasSuffix("auth=Bearer") })
        }
    }

    @Test func errorsSayWhatWasAskedAndWhy() async throws {
        try await Self.withServer { server, client in
            await #expect(throws: KubernetesError.notFound(path: "/api/v1/nodes/node-9")) { try await client.node(named: "node-9") }
            do {
                _ = try await client.secret("forbidden", namespace: "ceph-csi")
                Issue.record("a 403 was read as an object")
            } catch {
                guard case .forbidden(let path, let message)? = error as? KubernetesError else { throw error }
                #expect(path == "/api/v1/namespaces/ceph-csi/secrets/forbidden")
                #expect(message.contains("cannot get resource \"secrets\""))
                #expect("\(error)".contains("RBAC"))
            }
            // The answer never came within the limit (the server sleeps 12 s; the bound leaves
            // room for a loaded machine and still shows the client did not wait for the answer).
            let start = ContinuousClock.now
            await #expect(throws: KubernetesError.timedOut(path: "/api/v1/nodes/slow-node", limit: .seconds(1))) {
                try await client.node(named: "slow-node")
            }
            #expect(ContinuousClock.now - start < .seconds(8))
            // Names that would change the path are refused before any request.
            let before = server.requests.count
            for name in ["../secrets/x", "Node-1", "a/b", "", "..", "n?x=1"] {
                await #expect(throws: KubernetesError.badName(name)) { try await client.node(named: name) }
            }
            #expect(server.requests.count == before)
        }
    }

    @Test func aRefusedTokenIsUnauthorized() async throws {
        let server = try await FakeAPIServer()
        defer { server.stop() }
        let wrong = server.directory + "/wrong-token"
        try "not-the-token\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        let client = try KubernetesClient(config: server.config(tokenFile: wrong), limit: .seconds(2))
        await #expect(throws: KubernetesError.unauthorized(path: "/api/v1/nodes/node-1", message: "Unauthorized")) {
            try await client.node(named: "node-1")
        }
        // The token file is read per request: a rotated token is used at once.
        try "\(FakeAPIServer.token)\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        #expect(try await client.node(named: "node-1").metadata.name == "node-1")
        await client.shutdown()
    }

    @Test func aServerOutsideTheTrustedCAIsRefused() async throws {
        let server = try await FakeAPIServer()
        defer { server.stop() }
        let client = try KubernetesClient(config: server.config(caFile: server.directory + "/other-ca.crt"), limit: .seconds(2))
        do {
            _ = try await client.node(named: "node-1")
            Issue.record("a server signed by another CA was trusted")
        } catch {
            guard case .transport = error else { throw error }
        }
        await client.shutdown()
        #expect(server.requests.isEmpty)
    }

    @Test func inClusterConfigurationComesFromThePodEnvironment() throws {
        let directory = "/tmp/rbdcsi-sa-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: KubernetesError.self) { try KubernetesConfig.inCluster(environment: [:], serviceAccountDirectory: directory) }
        let environment = ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"]
        // No token mounted: not configured, with the file named.
        #expect(throws: KubernetesError.notConfigured("\(directory)/ca.crt does not exist (no service account token mounted)")) {
            try KubernetesConfig.inCluster(environment: environment, serviceAccountDirectory: directory)
        }
        for file in ["ca.crt", "token"] { _ = FileManager.default.createFile(atPath: directory + "/" + file, contents: Data("x".utf8)) }
        let config = try KubernetesConfig.inCluster(environment: environment, serviceAccountDirectory: directory)
        #expect(config.server == "https://10.96.0.1:443")
        #expect(config.tokenFile == directory + "/token")
        let v6 = try KubernetesConfig.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"], serviceAccountDirectory: directory)
        #expect(v6.server == "https://[fd00::1]:443")
    }
}

/// ceph-csi's healer discovery: the node's attached rbd-nbd volumes and their secrets.
@Suite("Attached volumes of a node (healer discovery)")
struct AttachedVolumesTests {
    @Test func findsTheNodesAttachedVolumesWithTheirSecretsAndStagingPaths() async throws {
        let server = try await FakeAPIServer()
        defer { server.stop() }
        let client = try KubernetesClient(config: server.config(), limit: .seconds(5))
        let found = try await AttachedVolumes.discover(
            client: client, nodeName: "node-1", driverName: "rbd.csi.ceph.com", stagingRoot: "/var/lib/kubelet/plugins/kubernetes.io/csi/",
            include: { $0["mounter"] == "rbd-nbd" }
        )
        // node-2's attachment and another driver's are not asked about.
        #expect(!server.requests.contains { $0.contains("pvc-other") || $0.contains("pvc-ebs") })
        #expect(found.problems.isEmpty)
        let volume = try #require(found.volumes.first)
        #expect(found.volumes.count == 1)
        #expect(volume.volumeHandle == "0001-0009-rook-ceph-0000000000000002-4b6e1d3a-9f2c-11ef-8c7d-0a580a810214")
        // kubelet ≥ 1.24: <root>/<driver>/<sha256 of the handle>/globalmount.
        #expect(volume.stagingPath == "/var/lib/kubelet/plugins/kubernetes.io/csi/rbd.csi.ceph.com/40ea20539677f60d6d485e93c6b0fa53752f3746fb62f48a226d5ea31a72d4c6/globalmount")
        #expect(volume.secrets == ["userID": "csi-node", "userKey": "AQB1rpVnAAAAABAAhj7Pt9BxF2wkDF8FfCxWgA=="])
        #expect(volume.fsType == "ext4" && !volume.isBlock && volume.accessMode == "ReadWriteOnce" && volume.mountOptions == ["discard"])
        #expect(volume.volumeAttributes["pool"] == "replicapool")

        // Volumes of another mounter are left out.
        let krbd = try await AttachedVolumes.discover(
            client: client, nodeName: "node-1", driverName: "rbd.csi.ceph.com", stagingRoot: "/k", include: { $0["mounter"] == "rbd" }
        )
        #expect(krbd.volumes.isEmpty)
        await client.shutdown()
    }

    @Test func stagingPathsFollowKubeletsLayout() {
        #expect(AttachedVolumes.stagingPath(root: "/k/", driver: "d", persistentVolume: "pv-1", volumeHandle: "h", isBlock: false, legacy: true) == "/k/pv/pv-1/globalmount")
        #expect(AttachedVolumes.stagingPath(root: "/k", driver: "d", persistentVolume: "pv-1", volumeHandle: "h", isBlock: true, legacy: false) == "/k/volumeDevices/staging/pv-1")
    }
}
