import CSIServices
import CoreMetrics
import GRPCCore
import GRPCTransport
import HostOperations
import Logging

/// The plugin's record of every call the gRPC server ran: one log line with the method, the
/// volume id (or request name), the status code sent and the duration, and the metrics
/// `rbdcsi_rpc_requests_total` (by method and code) and `rbdcsi_rpc_duration_seconds` (by
/// method) through swift-metrics, a no-op unless the process serves metrics. Volume ids are
/// never label values; secrets never reach it.
public struct RPCCallLog: GRPCCallObserver {
    public static let requests = "rbdcsi_rpc_requests_total"
    public static let duration = "rbdcsi_rpc_duration_seconds"

    public var logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    /// The server's hooks with this log and the plugin's error mapping (`RPCError(mapping:)`).
    public static func hooks(logger: Logger) -> GRPCServerHooks {
        GRPCServerHooks(mapError: { RPCError(mapping: $0) }, observer: RPCCallLog(logger: logger))
    }

    public func callEnded(_ method: MethodDescriptor, subject: String, status: RPCError?, duration: Duration) {
        let name = method.method
        let code = status?.code.wireName ?? "OK"
        CoreMetrics.Timer(label: Self.duration, dimensions: [("method", name)]).record(duration)
        Counter(label: Self.requests, dimensions: [("method", name), ("code", code)]).increment()
        let (seconds, attoseconds) = duration.components
        let micros = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
        var metadata: Logger.Metadata = [
            "method": "\(name)",
            "code": "\(code)",
            "duration_ms": "\(Double(micros) / 1000)",
        ]
        if !subject.isEmpty { metadata["volume"] = "\(subject)" }
        if let status, !status.message.isEmpty { metadata["error"] = "\(status.message)" }
        logger.log(level: status == nil ? .info : .error, "rpc", metadata: metadata)
    }
}
