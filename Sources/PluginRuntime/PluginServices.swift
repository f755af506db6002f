import CSIServices
import GRPCCore
import Logging

/// The CSI services one plugin process serves, wired to the real host.
public enum PluginServices {
    /// Programs without which no node operation can work; Probe reports not-ready without them.
    public static let requiredTools = ["mount", "umount", "blkid"]

    public static func make(info: PluginInfo, host: NodeHost, logger: Logger) -> [any RegistrableRPCService] {
        [
            IdentityService(info: info, readiness: ToolReadinessCheck(tools: requiredTools), logger: logger),
            NodeService(info: info, host: host, logger: logger),
            ControllerService(info: info, logger: logger),
        ]
    }
}
