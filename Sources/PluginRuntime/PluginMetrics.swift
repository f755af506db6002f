import CSIServices
import CephAccess
import CoreMetrics
import Prometheus

/// The process's Prometheus metrics.
///
/// The layers record through swift-metrics (RPCs, child processes, Ceph calls); this backs them
/// with one Prometheus registry. The gauges that describe the node as it is now (volumes staged
/// by mounter, liveness) are read when scraped, never kept up to date by hand, so they are right
/// after a restart and cost nothing between scrapes.
public final class PluginMetrics: Sendable {
    /// Where the scrape-time gauges come from; built by the composition root (`PluginServices`).
    public struct Sources: Sendable {
        /// What Probe answers; 1 or 0 in `csi_liveness`.
        public var readiness: any ReadinessChecking
        /// Staged volumes by mounter; nil without the node service.
        public var census: StagedVolumeCensus?

        public init(readiness: any ReadinessChecking, census: StagedVolumeCensus?) {
            self.readiness = readiness
            self.census = census
        }
    }

    /// Latency buckets for RPCs and Ceph calls: a node RPC takes about a millisecond, a stage
    /// tens to hundreds, a hung call up to its time limit.
    static let durationBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120),
    ]

    public let registry: PrometheusCollectorRegistry
    private let sources: Sources?
    private let liveness: Prometheus.Gauge
    private let staged: [String: Prometheus.Gauge]

    /// Metrics over a fresh registry. `sources` nil serves only `csi_liveness`, set by the caller
    /// (the `--type=liveness` prober).
    public init(sources: Sources?, version: String) {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        self.sources = sources
        liveness = registry.makeGauge(descriptor: Self.descriptor("csi_liveness", help: "Liveness Probe"))
        staged = Dictionary(
            uniqueKeysWithValues: (sources?.census == nil ? [] : StagedVolumeCensus.mounterNames).map { mounter in
                (mounter, registry.makeGauge(descriptor: Self.descriptor("rbdcsi_volumes_staged", help: "Volumes staged on this node, by mounter"), labels: [("mounter", mounter)]))
            }
        )
        registry.makeGauge(descriptor: Self.descriptor("rbdcsi_build_info", help: "The plugin's version"), labels: [("version", version)]).set(to: 1.0)
    }

    /// A gauge's name as it is exposed (no unit suffix), with its help text.
    private static func descriptor(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    /// Makes this registry the backend of swift-metrics for the whole process (once per process).
    public func bootstrapSwiftMetrics() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.durationBuckets
        MetricsSystem.bootstrap(factory)
    }

    /// Sets `csi_liveness` (the liveness prober's result).
    public func setLiveness(_ alive: Bool) {
        liveness.set(to: alive ? 1.0 : 0.0)
    }

    /// The Prometheus text exposition (format 0.0.4), the scrape-time gauges read first.
    public func render() async -> [UInt8] {
        if let sources {
            setLiveness(await sources.readiness.notReadyReason() == nil)
            if let census = sources.census, let counts = try? await census.count() {
                for (mounter, gauge) in staged { gauge.set(to: Double(counts[mounter] ?? 0)) }
            }
        }
        return registry.emitToBuffer()
    }
}
