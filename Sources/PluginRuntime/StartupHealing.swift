import CSIProtocol
import CSIServices
import KubernetesAccess
import Logging

/// ceph-csi's volume healer, run once at start-up before the plugin serves: the rbd-nbd
/// volumes Kubernetes has attached to this node, with the secrets their PersistentVolumes name,
/// get new daemons where theirs died with the previous run (`VolumeHealer`).
public struct StartupHealing: Sendable {
    public var nodeID: String
    public var driverName: String
    /// kubelet's CSI directory (`--stagingpath`), under which it staged the volumes.
    public var stagingRoot: String
    /// The whole healing's time limit: kubelet waits for the socket meanwhile.
    public var limit: Duration

    public init(nodeID: String, driverName: String, stagingRoot: String, limit: Duration = .seconds(45)) {
        self.nodeID = nodeID
        self.driverName = driverName
        self.stagingRoot = stagingRoot
        self.limit = limit
    }

    /// Finds and heals the volumes; every outcome and problem is logged.
    @discardableResult
    public func run(node: NodeHost, client: KubernetesClient, logger: Logger) async -> [String: VolumeHealer.Outcome] {
        let found: (volumes: [AttachedVolume], problems: [String])
        do {
            found = try await AttachedVolumes.discover(
                client: client, nodeName: nodeID, driverName: driverName, stagingRoot: stagingRoot,
                include: { $0["mounter"] == "rbd-nbd" }
            )
        } catch {
            logger.error("volume healer: cannot list the volumes attached to this node; rbd-nbd volumes are not healed", metadata: ["error": "\(error)"])
            return [:]
        }
        for problem in found.problems {
            logger.error("volume healer: cannot read an attached volume", metadata: ["error": "\(problem)"])
        }
        guard !found.volumes.isEmpty else {
            logger.info("volume healer: no rbd-nbd volume attached to this node")
            return [:]
        }
        logger.info("volume healer: checking rbd-nbd volumes attached to this node", metadata: ["count": "\(found.volumes.count)"])
        return await VolumeHealer(host: node, logger: logger).heal(found.volumes.map(Self.stageRequest(for:)), limit: limit)
    }

    /// The NodeStageVolume request kubelet made for `volume`, as ceph-csi's healer rebuilds it.
    public static func stageRequest(for volume: AttachedVolume) -> Csi_V1_NodeStageVolumeRequest {
        .with {
            $0.volumeID = volume.volumeHandle
            $0.stagingTargetPath = volume.stagingPath
            $0.secrets = volume.secrets
            $0.volumeContext = volume.volumeAttributes
            $0.volumeCapability = .with { capability in
                capability.accessMode.mode = accessMode(volume.accessMode)
                if volume.isBlock {
                    capability.block = .init()
                } else {
                    capability.mount = .with {
                        $0.fsType = volume.fsType
                        $0.mountFlags = volume.mountOptions
                    }
                }
            }
        }
    }

    static func accessMode(_ mode: String) -> Csi_V1_VolumeCapability.AccessMode.Mode {
        switch mode {
        case "ReadOnlyMany": return .multiNodeReaderOnly
        case "ReadWriteMany": return .multiNodeMultiWriter
        case "ReadWriteOncePod": return .singleNodeSingleWriter
        default: return .singleNodeWriter
        }
    }
}
