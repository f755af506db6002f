import CSIProtocol
import CephAccess
import Foundation
import HostOperations

/// The local Ceph cluster started by `scripts/ceph-cluster` (its exports are in the
/// environment when `scripts/test` runs the suite). The e2e suites are enabled only with it.
enum CephTestCluster {
    static let environment = ProcessInfo.processInfo.environment
    static var isConfigured: Bool {
        ["CEPH_CONF", "CEPH_MON_V1", "CEPH_CSI_USER", "CEPH_CSI_KEY"].allSatisfy { environment[$0]?.isEmpty == false }
    }
    static var conf: String { environment["CEPH_CONF"] ?? "" }
    static var monitor: String { environment["CEPH_MON_V1"] ?? "" }
    static var pool: String { environment["CEPH_POOL"] ?? "rbd" }
    static var secrets: [String: String] {
        ["userID": environment["CEPH_CSI_USER"] ?? "", "userKey": environment["CEPH_CSI_KEY"] ?? ""]
    }
    static let clusterID = "e2e-cluster"
    /// How tests that use CephAccess directly reach the cluster, as the CSI user.
    static var access: ClusterAccess {
        ClusterAccess(monitors: [monitor], credentials: CephCredentials(secrets: secrets)!)
    }
    static let runner = ProcessRunner()

    /// One entry of ceph-csi's cluster config file.
    struct ConfigEntry: Encodable {
        struct RBD: Encodable { var radosNamespace: String; var netNamespaceFilePath: String? }
        var clusterID: String
        var monitors: [String]
        var rbd: RBD?

        init(clusterID: String, monitors: [String] = [CephTestCluster.monitor], radosNamespace: String? = nil, netNamespaceFilePath: String? = nil) {
            self.clusterID = clusterID
            self.monitors = monitors
            if radosNamespace != nil || netNamespaceFilePath != nil {
                rbd = RBD(radosNamespace: radosNamespace ?? "", netNamespaceFilePath: netNamespaceFilePath)
            }
        }
    }

    /// The ceph-csi config file naming this cluster (and `extraClusters`), written into `directory`.
    static func writeConfig(in directory: String, extraClusters: [ConfigEntry] = []) throws {
        let json = try JSONEncoder().encode([ConfigEntry(clusterID: clusterID)] + extraClusters)
        try json.write(to: URL(fileURLWithPath: directory + "/config.json"))
    }

    @discardableResult
    static func ceph(_ arguments: [String]) async throws -> String {
        try await runner.runChecked(Command("ceph", ["-c", conf] + arguments, timeout: .seconds(60))).standardOutput
    }

    @discardableResult
    static func rados(_ arguments: [String]) async throws -> String {
        try await runner.runChecked(Command("rados", ["-c", conf] + arguments, timeout: .seconds(60))).standardOutput
    }

    /// Creates an image with a unique name and returns the name.
    static func createImage(sizeMiB: Int = 64) async throws -> String {
        let name = "e2e-\(UUID().uuidString.prefix(12).lowercased())"
        try await rbd(["create", "--size", "\(sizeMiB)", "\(pool)/\(name)"])
        return name
    }

    @discardableResult
    static func rbd(_ arguments: [String]) async throws -> String {
        try await runner.runChecked(Command("rbd", ["-c", conf] + arguments, timeout: .seconds(60))).standardOutput
    }

    /// The volume context of a static rbd-fuse volume that may be formatted when blank.
    static func context(extra: [String: String] = [:]) -> [String: String] {
        ["staticVolume": "true", "pool": pool, "clusterID": clusterID, "mounter": "rbd-fuse", "formatStaticVolume": "true"]
            .merging(extra) { $1 }
    }

    static func mountCapability(fsType: String = "ext4", mode: Csi_V1_VolumeCapability.AccessMode.Mode = .singleNodeWriter, flags: [String] = []) -> Csi_V1_VolumeCapability {
        .with {
            $0.mount = .with { $0.fsType = fsType; $0.mountFlags = flags }
            $0.accessMode = .with { $0.mode = mode }
        }
    }

    static func blockCapability(mode: Csi_V1_VolumeCapability.AccessMode.Mode = .singleNodeWriter) -> Csi_V1_VolumeCapability {
        .with {
            $0.block = .init()
            $0.accessMode = .with { $0.mode = mode }
        }
    }

    /// Mount points under `directory` and loop devices over files under it: what a test
    /// must leave behind is none.
    static func leftovers(under directory: String) throws -> [String] {
        let mounts = try SystemMountTable().entries().map(\.mountPoint).filter { $0.hasPrefix(directory + "/") }
        let loops = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/block")) ?? []
        let backed = loops.filter { $0.hasPrefix("loop") }.compactMap { loop -> String? in
            guard let file = try? String(contentsOfFile: "/sys/block/\(loop)/loop/backing_file", encoding: .utf8) else { return nil }
            return file.hasPrefix(directory + "/") ? "/dev/\(loop) (\(file.trimmingWhitespace()))" : nil
        }
        return mounts + backed
    }
}

/// One staged-volume scenario's paths inside a plugin's temporary directory.
struct VolumePaths {
    let staging: String
    let volumeID: String

    init(plugin: TestPlugin, volumeID: String) throws {
        staging = plugin.directory + "/staging-\(volumeID)"
        self.volumeID = volumeID
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
    }

    var stagedPath: String { staging + "/" + volumeID }
    func target(_ name: String) -> String { staging + "-pods-" + name }

    func stageRequest(_ capability: Csi_V1_VolumeCapability, context: [String: String] = CephTestCluster.context()) -> Csi_V1_NodeStageVolumeRequest {
        .with {
            $0.volumeID = volumeID
            $0.stagingTargetPath = staging
            $0.volumeCapability = capability
            $0.secrets = CephTestCluster.secrets
            $0.volumeContext = context
        }
    }

    func publishRequest(_ capability: Csi_V1_VolumeCapability, target name: String, readonly: Bool = false) -> Csi_V1_NodePublishVolumeRequest {
        .with {
            $0.volumeID = volumeID
            $0.stagingTargetPath = staging
            $0.targetPath = target(name)
            $0.volumeCapability = capability
            $0.readonly = readonly
        }
    }

    func unpublishRequest(target name: String) -> Csi_V1_NodeUnpublishVolumeRequest {
        .with {
            $0.volumeID = volumeID
            $0.targetPath = target(name)
        }
    }

    var unstageRequest: Csi_V1_NodeUnstageVolumeRequest {
        .with {
            $0.volumeID = volumeID
            $0.stagingTargetPath = staging
        }
    }

    var stashExists: Bool { FileManager.default.fileExists(atPath: staging + "/image-meta.json") }
}
