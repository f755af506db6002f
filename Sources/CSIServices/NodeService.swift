import CSIProtocol
import GRPCCore
import Logging

/// The CSI Node service: stage, publish, unpublish and unstage RBD volumes on this node.
public struct NodeService: Csi_V1_Node.SimpleServiceProtocol {
    public let info: PluginInfo
    private let locks = VolumeLocks()
    private let stager: VolumeStager
    private let publisher: VolumePublisher
    private let inspector: VolumeInspector

    public init(info: PluginInfo, host: NodeHost, logger: Logger) {
        self.info = info
        self.stager = VolumeStager(host: host, logger: logger)
        self.publisher = VolumePublisher(host: host, logger: logger)
        self.inspector = VolumeInspector(host: host, logger: logger)
    }

    public func nodeGetCapabilities(request: Csi_V1_NodeGetCapabilitiesRequest, context: ServerContext) async throws -> Csi_V1_NodeGetCapabilitiesResponse {
        Self.capabilities
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
        .with {
            $0.nodeID = info.nodeID
            if !info.topology.isEmpty {
                $0.accessibleTopology = .with { $0.segments = info.topology }
            }
        }
    }

    public func nodeStageVolume(request: Csi_V1_NodeStageVolumeRequest, context: ServerContext) async throws -> Csi_V1_NodeStageVolumeResponse {
        let parameters = try StageParameters(request)
        try await locks.withLock(request.volumeID) {
            try await stager.stage(parameters)
        }
        return Csi_V1_NodeStageVolumeResponse()
    }

    public func nodeUnstageVolume(request: Csi_V1_NodeUnstageVolumeRequest, context: ServerContext) async throws -> Csi_V1_NodeUnstageVolumeResponse {
        try NodeRequestValidation.volumeID(request.volumeID)
        try NodeRequestValidation.stagingPath(request.stagingTargetPath)
        try await locks.withLock(request.volumeID) {
            try await stager.unstage(volumeID: request.volumeID, stagingPath: request.stagingTargetPath)
        }
        return Csi_V1_NodeUnstageVolumeResponse()
    }

    public func nodePublishVolume(request: Csi_V1_NodePublishVolumeRequest, context: ServerContext) async throws -> Csi_V1_NodePublishVolumeResponse {
        let capability = try NodeRequestValidation.capability(request.volumeCapability, present: request.hasVolumeCapability)
        try NodeRequestValidation.volumeID(request.volumeID)
        try NodeRequestValidation.targetPath(request.targetPath)
        try NodeRequestValidation.stagingPath(request.stagingTargetPath)
        try await locks.withLock(request.volumeID) {
            try await publisher.publish(request, capability: capability)
        }
        return Csi_V1_NodePublishVolumeResponse()
    }

    public func nodeUnpublishVolume(request: Csi_V1_NodeUnpublishVolumeRequest, context: ServerContext) async throws -> Csi_V1_NodeUnpublishVolumeResponse {
        try NodeRequestValidation.volumeID(request.volumeID)
        try NodeRequestValidation.targetPath(request.targetPath)
        try await locks.withLock(request.volumeID) {
            try await publisher.unpublish(volumeID: request.volumeID, target: request.targetPath)
        }
        return Csi_V1_NodeUnpublishVolumeResponse()
    }

    public func nodeGetVolumeStats(request: Csi_V1_NodeGetVolumeStatsRequest, context: ServerContext) async throws -> Csi_V1_NodeGetVolumeStatsResponse {
        try NodeRequestValidation.volumeID(request.volumeID)
        try NodeRequestValidation.volumePath(request.volumePath)
        return try await inspector.stats(volumeID: request.volumeID, path: request.volumePath)
    }

    public func nodeExpandVolume(request: Csi_V1_NodeExpandVolumeRequest, context: ServerContext) async throws -> Csi_V1_NodeExpandVolumeResponse {
        try NodeRequestValidation.volumeID(request.volumeID)
        try NodeRequestValidation.volumePath(request.volumePath)
        let capacity = try await locks.withLock(request.volumeID) {
            try await inspector.expand(volumeID: request.volumeID, path: request.volumePath)
        }
        return .with { $0.capacityBytes = capacity }
    }
}
