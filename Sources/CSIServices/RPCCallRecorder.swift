import CoreMetrics
import GRPCCore
import HostOperations
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Runs the body of every RPC: maps whatever it throws to a gRPC status and logs one line per
/// call with the method, volume id, status code and duration. Secrets are never passed here.
///
/// Each call is also counted by method and status code (`rbdcsi_rpc_requests_total`) and
/// timed by method (`rbdcsi_rpc_duration_seconds`) through swift-metrics, a no-op unless the
/// process serves metrics. Volume ids are never label values.
public struct RPCCallRecorder: Sendable {
    public static let requests = "rbdcsi_rpc_requests_total"
    public static let duration = "rbdcsi_rpc_duration_seconds"

    public var logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func record<Response: Sendable>(
        _ method: String,
        volumeID: String = "",
        _ body: () async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await body()
            log(method, volumeID, code: "OK", start: start, level: .info, message: nil)
            return response
        } catch {
            let status = RPCError(mapping: error)
            log(method, volumeID, code: status.code.wireName, start: start, level: .error, message: status.message)
            throw status
        }
    }

    private func log(_ method: String, _ volumeID: String, code: String, start: ContinuousClock.Instant, level: Logger.Level, message: String?) {
        CoreMetrics.Timer(label: Self.duration, dimensions: [("method", method)]).recordInterval(since: start)
        Counter(label: Self.requests, dimensions: [("method", method), ("code", code)]).increment()
        let elapsed = ContinuousClock.now - start
        let (seconds, attoseconds) = elapsed.components
        let micros = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
        var metadata: Logger.Metadata = [
            "method": "\(method)",
            "code": "\(code)",
            "duration_ms": "\(Double(micros) / 1000)",
        ]
        if !volumeID.isEmpty { metadata["volume"] = "\(volumeID)" }
        if let message { metadata["error"] = "\(message)" }
        logger.log(level: level, "rpc", metadata: metadata)
    }
}

extension RPCError.Code {
    /// The canonical upper-case name (`INVALID_ARGUMENT`), as in gRPC's own tools.
    public var wireName: String {
        switch self {
        case .cancelled: return "CANCELLED"
        case .unknown: return "UNKNOWN"
        case .invalidArgument: return "INVALID_ARGUMENT"
        case .deadlineExceeded: return "DEADLINE_EXCEEDED"
        case .notFound: return "NOT_FOUND"
        case .alreadyExists: return "ALREADY_EXISTS"
        case .permissionDenied: return "PERMISSION_DENIED"
        case .resourceExhausted: return "RESOURCE_EXHAUSTED"
        case .failedPrecondition: return "FAILED_PRECONDITION"
        case .aborted: return "ABORTED"
        case .outOfRange: return "OUT_OF_RANGE"
        case .unimplemented: return "UNIMPLEMENTED"
        case .internalError: return "INTERNAL"
        case .unavailable: return "UNAVAILABLE"
        case .dataLoss: return "DATA_LOSS"
        case .unauthenticated: return "UNAUTHENTICATED"
        default: return "\(self)"
        }
    }
}
