import CoreMetrics
import HostOperations

/// Latency and time-outs of librados/librbd work, through swift-metrics (a no-op until the
/// process bootstraps a metrics backend).
///
/// Labelled by kind only: operation names carry image and volume names, which must never
/// become label values (one series per volume would grow without bound).
public enum CephCallMetrics {
    public enum Kind: String, Sendable {
        /// Connecting a librados handle to the monitors.
        case connect
        /// One call on a pooled connection (journal, image, snapshot, omap work).
        case call
    }

    public static let duration = "rbdcsi_ceph_call_duration_seconds"
    public static let timeouts = "rbdcsi_ceph_call_timeouts_total"
    public static let failures = "rbdcsi_ceph_call_failures_total"

    /// Runs `body`, recording how long it took and whether it timed out or failed.
    static func measure<R: Sendable>(
        _ kind: Kind, isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> R
    ) async throws -> R {
        let start = ContinuousClock.now
        let dimensions = [("kind", kind.rawValue)]
        defer { CoreMetrics.Timer(label: duration, dimensions: dimensions).recordInterval(since: start) }
        do {
            return try await body()
        } catch {
            if case CephAccessError.timedOut = error {
                Counter(label: timeouts, dimensions: dimensions).increment()
            } else {
                Counter(label: failures, dimensions: dimensions).increment()
            }
            throw error
        }
    }
}
