import CSIProtocol
import CephAccess
import Foundation
import Logging
import Testing

@testable import CSIServices

/// ceph-csi v3.12's read affinity: krbd map options from the node's labels, gated by the
/// cluster config.
@Suite("Read affinity (krbd read_from_replica, crush_location)")
struct ReadAffinityTests {
    static let labels = [
        "topology.kubernetes.io/zone": "eu-west-1b", "topology.kubernetes.io/region": "eu.west",
        "kubernetes.io/hostname": "node-1", "topology.rook.io/rack": "",
    ]

    @Test func crushLocationComesFromTheNamedLabelsThatHaveValues() {
        let location = ReadAffinity.crushLocation(
            labels: "topology.kubernetes.io/zone, topology.kubernetes.io/region,kubernetes.io/hostname,topology.rook.io/rack,missing/label",
            nodeLabels: Self.labels
        )
        // hostname becomes CRUSH's host, dots dashes; empty and missing labels are left out.
        #expect(location == ["zone": "eu-west-1b", "region": "eu-west", "host": "node-1"])
    }

    @Test func theClusterConfigDecides() throws {
        let cli = ReadAffinity(nodeLabels: Self.labels, commandLineLabels: "topology.kubernetes.io/zone,kubernetes.io/hostname")
        // Not enabled for the cluster: nothing, even with the flag.
        #expect(cli.mapOptions(for: nil).isEmpty)
        #expect(cli.mapOptions(for: .init(enabled: false, crushLocationLabels: ["topology.kubernetes.io/zone"])).isEmpty)
        // Enabled without labels: the command line's.
        #expect(cli.mapOptions(for: .init(enabled: true)) == ["read_from_replica=localize", "crush_location=host:node-1|zone:eu-west-1b"])
        // The cluster's labels win over the command line's.
        #expect(cli.mapOptions(for: .init(enabled: true, crushLocationLabels: ["topology.kubernetes.io/region"]))
            == ["read_from_replica=localize", "crush_location=region:eu-west"])
        // Without --enable-read-affinity and without cluster labels: nothing.
        #expect(ReadAffinity(nodeLabels: Self.labels).mapOptions(for: .init(enabled: true)).isEmpty)
    }

    @Test func clusterConfigReadsReadAffinityAsCephCSIWritesIt() throws {
        let path = NSTemporaryDirectory() + "rbdcsi-ra-\(UUID().uuidString.prefix(8)).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try #"[{"clusterID":"c1","monitors":["10.0.0.1:6789"],"readAffinity":{"enabled":true,"crushLocationLabels":["topology.kubernetes.io/zone"]}},{"clusterID":"c2","monitors":["10.0.0.2"]}]"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let config = ClusterConfig(path: path)
        #expect(try config.cluster("c1").readAffinity == .init(enabled: true, crushLocationLabels: ["topology.kubernetes.io/zone"]))
        #expect(try config.cluster("c2").readAffinity == nil)
    }

    /// A cluster of the config with read affinity enabled.
    struct AffineClusters: ClusterLookup {
        func cluster(_ clusterID: String) throws -> ClusterConfig.Cluster {
            try JSONDecoder().decode(ClusterConfig.Cluster.self, from: Data(#"{"clusterID":"c1","monitors":["10.0.0.1:6789"],"readAffinity":{"enabled":true}}"#.utf8))
        }
    }

    @Test(arguments: [("rbd", true), ("rbd-nbd", false)])
    func krbdStagesMapWithTheNodesLocation(mounter: String, expected: Bool) async throws {
        let fake = FakeHost()
        var host = fake.host
        host.clusters = AffineClusters()
        host.readAffinity = ReadAffinity(nodeLabels: Self.labels, commandLineLabels: "topology.kubernetes.io/zone")
        let staging = NSTemporaryDirectory() + "rbdcsi-ra-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        let request = Csi_V1_NodeStageVolumeRequest.with {
            $0.volumeID = "vol-1"
            $0.stagingTargetPath = staging
            $0.volumeCapability = .with { $0.mount = .with { $0.fsType = "ext4" }; $0.accessMode.mode = .singleNodeWriter }
            $0.secrets = ["userID": "u", "userKey": "secret-key"]
            $0.volumeContext = ["staticVolume": "true", "pool": "rbd", "clusterID": "c1", "formatStaticVolume": "true", "mounter": mounter, "mapOptions": "krbd:lock_on_read"]
        }
        try await VolumeStager(host: host, logger: Logger(label: "unit")).stage(StageParameters(request))
        let map = try #require(fake.recorded.first { $0.hasPrefix("map ") })
        if expected {
            #expect(map.hasSuffix("options=lock_on_read,read_from_replica=localize,crush_location=zone:eu-west-1b"))
        } else {
            #expect(!map.contains("read_from_replica"))
        }
    }
}
