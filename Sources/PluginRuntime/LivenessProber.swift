import CSIProtocol
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import ServiceLifecycle

/// ceph-csi's `--type=liveness`: calls Probe on a plugin's socket every `pollTime`, each call
/// bounded by `timeout`, and keeps `csi_liveness` at 1 while the answer is ready, 0 otherwise,
/// for the deployments that run it as a sidecar (`liveness-prometheus`) beside the plugin.
public struct LivenessProber: Service {
    public var endpoint: PluginEndpoint
    public var pollTime: Duration
    public var timeout: Duration
    public let metrics: PluginMetrics
    public let logger: Logger

    public init(endpoint: PluginEndpoint, pollTime: Duration, timeout: Duration, metrics: PluginMetrics, logger: Logger) {
        self.endpoint = endpoint
        self.pollTime = pollTime
        self.timeout = timeout
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        // One client for the process's life; it reconnects by itself when the plugin restarts.
        try await withGRPCClient(
            transport: .http2NIOPosix(target: .unixDomainSocket(path: endpoint.socketPath), transportSecurity: .plaintext)
        ) { client in
            let identity = Csi_V1_Identity.Client(wrapping: client)
            var options = CallOptions.defaults
            options.timeout = timeout
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    let response = try await identity.probe(.init(), options: options)
                    let ready = !response.hasReady || response.ready.value
                    metrics.setLiveness(ready)
                    if ready {
                        logger.debug("health check succeeded")
                    } else {
                        logger.error("driver responded but is not ready")
                    }
                } catch {
                    metrics.setLiveness(false)
                    logger.error("health check failed", metadata: ["error": "\(error)"])
                }
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pollTime) }
            }
        }
    }
}

/// A short name for ServiceGroup's logs (see `PluginServer.description`).
extension LivenessProber: CustomStringConvertible {
    public var description: String { "LivenessProber(\(endpoint))" }
}
