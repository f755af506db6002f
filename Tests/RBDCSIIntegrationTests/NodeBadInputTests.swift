import CSIProtocol
import Foundation
import GRPCCore
import Testing

/// Every bad input of the contract gets its gRPC code, before anything is touched.
@Suite("Node RPCs refuse bad input with the right code")
struct NodeBadInputTests {
    static func stage(_ mutate: @Sendable (inout Csi_V1_NodeStageVolumeRequest, TestPlugin) -> Void) async throws -> RPCError.Code? {
        try await TestPlugin.run { plugin, client in
            let staging = plugin.directory + "/staging"
            try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
            var request = Csi_V1_NodeStageVolumeRequest.with {
                $0.volumeID = "vol-bad-input"
                $0.stagingTargetPath = staging
                $0.volumeCapability = CephTestCluster.mountCapability()
                $0.secrets = ["userID": "u", "userKey": "k"]
                $0.volumeContext = ["staticVolume": "true", "pool": "rbd", "clusterID": CephTestCluster.clusterID, "mounter": "rbd-fuse"]
            }
            mutate(&request, plugin)
            let node = Csi_V1_Node.Client(wrapping: client)
            let result = await code { _ = try await node.nodeStageVolume(request) }
            #expect(!FileManager.default.fileExists(atPath: staging + "/image-meta.json"))
            return result
        }
    }

    @Test func stageInvalidArguments() async throws {
        let cases: [(String, @Sendable (inout Csi_V1_NodeStageVolumeRequest, TestPlugin) -> Void)] = [
            ("no capability", { r, _ in r.clearVolumeCapability() }),
            ("empty volume id", { r, _ in r.volumeID = "" }),
            ("empty staging path", { r, _ in r.stagingTargetPath = "" }),
            ("no secrets", { r, _ in r.secrets = [:] }),
            ("missing userKey", { r, _ in r.secrets = ["userID": "u"] }),
            ("staging path missing", { r, p in r.stagingTargetPath = p.directory + "/nope" }),
            ("RWX filesystem", { r, _ in r.volumeCapability.accessMode.mode = .multiNodeMultiWriter }),
            ("id with slash", { r, _ in r.volumeID = "../escape" }),
            ("id dot-dot", { r, _ in r.volumeID = ".." }),
            ("id with NUL", { r, _ in r.volumeID = "a\u{0}b" }),
            ("unknown mounter", { r, _ in r.volumeContext["mounter"] = "ceph-fuse" }),
            ("bad staticVolume", { r, _ in r.volumeContext["staticVolume"] = "maybe" }),
            ("static without pool", { r, _ in r.volumeContext["pool"] = nil }),
            ("no clusterID", { r, _ in r.volumeContext["clusterID"] = nil }),
            ("bad map options", { r, _ in r.volumeContext["mapOptions"] = "zfs:x" }),
            ("unsupported fs", { r, _ in r.volumeCapability.mount.fsType = "btrfs" }),
        ]
        for (name, mutate) in cases {
            let result = try await Self.stage(mutate)
            #expect(result == .invalidArgument, "\(name)")
        }
    }

    @Test func stageOfAnUndecodableIdIsNotFound() async throws {
        #expect(try await Self.stage { r, _ in r.volumeContext["staticVolume"] = nil } == .notFound)
    }

    @Test func stageOfAnUnknownClusterIsNotFound() async throws {
        #expect(try await Self.stage { r, _ in r.volumeContext["clusterID"] = "no-such-cluster" } == .notFound)
    }

    @Test func publishAndUnpublishInvalidArguments() async throws {
        let codes = try await TestPlugin.run { plugin, client -> [RPCError.Code?] in
            let node = Csi_V1_Node.Client(wrapping: client)
            let good = Csi_V1_NodePublishVolumeRequest.with {
                $0.volumeID = "v1"
                $0.stagingTargetPath = plugin.directory
                $0.targetPath = plugin.directory + "/target"
                $0.volumeCapability = CephTestCluster.mountCapability()
            }
            var results: [RPCError.Code?] = []
            for mutate in [
                { (r: inout Csi_V1_NodePublishVolumeRequest) in r.clearVolumeCapability() },
                { r in r.volumeID = "" },
                { r in r.targetPath = "" },
                { r in r.stagingTargetPath = "" },
            ] {
                var request = good
                mutate(&request)
                results.append(await code { _ = try await node.nodePublishVolume(request) })
            }
            results.append(await code { _ = try await node.nodeUnpublishVolume(.with { $0.targetPath = "/x" }) })
            results.append(await code { _ = try await node.nodeUnpublishVolume(.with { $0.volumeID = "v1" }) })
            results.append(await code { _ = try await node.nodeUnstageVolume(.with { $0.stagingTargetPath = "/x" }) })
            results.append(await code { _ = try await node.nodeUnstageVolume(.with { $0.volumeID = "v1" }) })
            return results
        }
        #expect(codes == Array(repeating: .invalidArgument, count: 8))
    }

    @Test func publishOfAnUnstagedVolumeIsRefused() async throws {
        let (result, targetExists) = try await TestPlugin.run { plugin, client -> (RPCError.Code?, Bool) in
            let node = Csi_V1_Node.Client(wrapping: client)
            try FileManager.default.createDirectory(atPath: plugin.directory + "/v1", withIntermediateDirectories: true)
            let request = Csi_V1_NodePublishVolumeRequest.with {
                $0.volumeID = "v1"
                $0.stagingTargetPath = plugin.directory
                $0.targetPath = plugin.directory + "/target"
                $0.volumeCapability = CephTestCluster.mountCapability()
            }
            let result = await code { _ = try await node.nodePublishVolume(request) }
            return (result, FileManager.default.fileExists(atPath: plugin.directory + "/target"))
        }
        #expect(result == .failedPrecondition)
        #expect(!targetExists)
    }

    @Test func unpublishAndUnstageOfNothingAreOK() async throws {
        let codes = try await TestPlugin.run { plugin, client -> [RPCError.Code?] in
            let node = Csi_V1_Node.Client(wrapping: client)
            return [
                await code { _ = try await node.nodeUnpublishVolume(.with { $0.volumeID = "v1"; $0.targetPath = plugin.directory + "/gone" }) },
                await code { _ = try await node.nodeUnstageVolume(.with { $0.volumeID = "v1"; $0.stagingTargetPath = plugin.directory }) },
            ]
        }
        #expect(codes == [nil, nil])
    }

    @Test func statsAndExpandInvalidArgumentsAndMissingPaths() async throws {
        let codes = try await TestPlugin.run { plugin, client -> [RPCError.Code?] in
            let node = Csi_V1_Node.Client(wrapping: client)
            return [
                await code { _ = try await node.nodeGetVolumeStats(.with { $0.volumePath = plugin.directory }) },
                await code { _ = try await node.nodeGetVolumeStats(.with { $0.volumeID = "v" }) },
                await code { _ = try await node.nodeGetVolumeStats(.with { $0.volumeID = "v"; $0.volumePath = plugin.directory + "/gone" }) },
                await code { _ = try await node.nodeExpandVolume(.with { $0.volumePath = plugin.directory }) },
                await code { _ = try await node.nodeExpandVolume(.with { $0.volumeID = "v" }) },
                await code { _ = try await node.nodeExpandVolume(.with { $0.volumeID = "v"; $0.volumePath = plugin.directory + "/gone" }) },
            ]
        }
        #expect(codes == [.invalidArgument, .invalidArgument, .notFound, .invalidArgument, .invalidArgument, .notFound])
    }
}
