import CSIProtocol
import GRPCCore
import Logging

/// The CSI Node service: stage, publish, unpublish and unstage RBD volumes on this node.
public struct NodeService: Csi_V1_Node.SimpleServiceProtocol {
    public let info: PluginInfo
    private let recorder: RPCCallRecorder

    public init(info: PluginInfo, logger: Logger) {
        self.info = info
        self.recorder = RPCCallRecorder(logger: logger)
    }

    public func nodeGetCapabilities(request: Csi_V1_NodeGetCapabilitiesRequest, context: ServerContext) async throws -> Csi_V1_NodeGetCapabilitiesResponse {
        try await recorder.record("NodeGetCapabilities") {
            Self.capabilities
        }
    }

    /// Built once: NodeGetCapabilities is on kubelet's hot path.
    private static let capabilities = Csi_V1_NodeGetCapabilitiesResponse.with {
        $0.capabilities = [
            Csi_V1_NodeServiceCapability.RPC.TypeEnum.stageUnstageVolume,
            .getVolumeStats,
            .expandVolume,
            .volumeCondition,
            .singleNodeMultiWriter,
        ].map { type in .with { $0.rpc.type = type } }
    }

    public func nodeGetInfo(request: Csi_V1_NodeGetInfoRequest, context: ServerContext) async throws -> Csi_V1_NodeGetInfoResponse {
        try await recorder.record("NodeGetInfo") {
            .with {
                $0.nodeID = info.nodeID
                if !info.topology.isEmpty {
                    $0.accessibleTopology = .with { $0.segments = info.topology }
                }
            }
        }
    }

    public func nodeStageVolume(request: Csi_V1_NodeStageVolumeRequest, context: ServerContext) async throws -> Csi_V1_NodeStageVolumeResponse {
        try await recorder.record("NodeStageVolume", volumeID: request.volumeID) {
            throw CSIError.unimplemented("NodeStageVolume")
        }
    }

    public func nodeUnstageVolume(request: Csi_V1_NodeUnstageVolumeRequest, context: ServerContext) async throws -> Csi_V1_NodeUnstageVolumeResponse {
        try await recorder.record("NodeUnstageVolume", volumeID: request.volumeID) {
            throw CSIError.unimplemented("NodeUnstageVolume")
        }
    }

    public func nodePublishVolume(request: Csi_V1_NodePublishVolumeRequest, context: ServerContext) async throws -> Csi_V1_NodePublishVolumeResponse {
        try await recorder.record("NodePublishVolume", volumeID: request.volumeID) {
            throw CSIError.unimplemented("NodePublishVolume")
        }
    }

    public func nodeUnpublishVolume(request: Csi_V1_NodeUnpublishVolumeRequest, context: ServerContext) async throws -> Csi_V1_NodeUnpublishVolumeResponse {
        try await recorder.record("NodeUnpublishVolume", volumeID: request.volumeID) {
            throw CSIError.unimplemented("NodeUnpublishVolume")
        }
    }

    public func nodeGetVolumeStats(request: Csi_V1_NodeGetVolumeStatsRequest, context: ServerContext) async throws -> Csi_V1_NodeGetVolumeStatsResponse {
        try await recorder.record("NodeGetVolumeStats", volumeID: request.volumeID) {
            throw CSIError.unimplemented("NodeGetVolumeStats")
        }
    }

    public func nodeExpandVolume(request: Csi_V1_NodeExpandVolumeRequest, context: ServerContext) async throws -> Csi_V1_NodeExpandVolumeResponse {
        try await recorder.record("NodeExpandVolume", volumeID: request.volumeID) {
            throw CSIError.unimplemented("NodeExpandVolume")
        }
    }
}
