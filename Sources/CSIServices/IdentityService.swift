import CSIProtocol
import GRPCCore
import Logging
import SwiftProtobuf

/// The CSI Identity service: who the plugin is, what it can do, whether it is ready.
public struct IdentityService: Csi_V1_Identity.SimpleServiceProtocol {
    public let info: PluginInfo
    public let readiness: any ReadinessChecking
    private let logger: Logger

    public init(info: PluginInfo, readiness: any ReadinessChecking, logger: Logger) {
        self.info = info
        self.readiness = readiness
        self.logger = logger
    }

    public func getPluginInfo(request: Csi_V1_GetPluginInfoRequest, context: ServerContext) async throws -> Csi_V1_GetPluginInfoResponse {
        .with {
            $0.name = info.driverName
            $0.vendorVersion = info.version
        }
    }

    public func getPluginCapabilities(request: Csi_V1_GetPluginCapabilitiesRequest, context: ServerContext) async throws -> Csi_V1_GetPluginCapabilitiesResponse {
        // CONTROLLER_SERVICE only where this process serves it (--controllerserver), and
        // accessibility constraints only with a topology to report (--domainlabels):
        // NodeGetInfo must then return one. ceph-csi advertises the latter always.
        .with {
            $0.capabilities = [.with { $0.volumeExpansion.type = .online }]
            if !info.topology.isEmpty { $0.capabilities.append(.with { $0.service.type = .volumeAccessibilityConstraints }) }
            if info.servesController { $0.capabilities.insert(.with { $0.service.type = .controllerService }, at: 0) }
        }
    }

    public func probe(request: Csi_V1_ProbeRequest, context: ServerContext) async throws -> Csi_V1_ProbeResponse {
        if let reason = await readiness.notReadyReason() {
            logger.warning("not ready", metadata: ["reason": "\(reason)"])
            return .with { $0.ready = Google_Protobuf_BoolValue(false) }
        }
        return .with { $0.ready = Google_Protobuf_BoolValue(true) }
    }
}
