import CSIProtocol
import GRPCCore
import Logging
import SwiftProtobuf

/// The CSI Identity service: who the plugin is, what it can do, whether it is ready.
public struct IdentityService: Csi_V1_Identity.SimpleServiceProtocol {
    public let info: PluginInfo
    public let readiness: any ReadinessChecking
    private let recorder: RPCCallRecorder

    public init(info: PluginInfo, readiness: any ReadinessChecking, logger: Logger) {
        self.info = info
        self.readiness = readiness
        self.recorder = RPCCallRecorder(logger: logger)
    }

    public func getPluginInfo(request: Csi_V1_GetPluginInfoRequest, context: ServerContext) async throws -> Csi_V1_GetPluginInfoResponse {
        try await recorder.record("GetPluginInfo") {
            .with {
                $0.name = info.driverName
                $0.vendorVersion = info.version
            }
        }
    }

    public func getPluginCapabilities(request: Csi_V1_GetPluginCapabilitiesRequest, context: ServerContext) async throws -> Csi_V1_GetPluginCapabilitiesResponse {
        try await recorder.record("GetPluginCapabilities") {
            // No CONTROLLER_SERVICE: this process is a node plugin only.
            .with {
                $0.capabilities = [
                    .with { $0.volumeExpansion.type = .online },
                    .with { $0.service.type = .volumeAccessibilityConstraints },
                ]
            }
        }
    }

    public func probe(request: Csi_V1_ProbeRequest, context: ServerContext) async throws -> Csi_V1_ProbeResponse {
        try await recorder.record("Probe") {
            if let reason = await readiness.notReadyReason() {
                recorder.logger.warning("not ready", metadata: ["reason": "\(reason)"])
                return .with { $0.ready = Google_Protobuf_BoolValue(false) }
            }
            return .with { $0.ready = Google_Protobuf_BoolValue(true) }
        }
    }
}
