import CSIProtocol
import GRPCCore
import Logging

/// The CSI Controller service of a node plugin: it only answers ControllerGetCapabilities
/// (conformance clients call it against node-only plugins). Every other Controller RPC is
/// answered UNIMPLEMENTED by the server, which has no handler for it.
public struct ControllerService: Csi_V1_Controller.SimpleServiceProtocol {
    public let info: PluginInfo
    private let recorder: RPCCallRecorder

    public init(info: PluginInfo, logger: Logger) {
        self.info = info
        self.recorder = RPCCallRecorder(logger: logger)
    }

    public func controllerGetCapabilities(request: Csi_V1_ControllerGetCapabilitiesRequest, context: ServerContext) async throws -> Csi_V1_ControllerGetCapabilitiesResponse {
        try await recorder.record("ControllerGetCapabilities") {
            // Volume creation lives in a ceph-csi compatible controller, not in this process.
            Csi_V1_ControllerGetCapabilitiesResponse()
        }
    }
}
