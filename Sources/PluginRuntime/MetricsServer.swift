import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// Serves the Prometheus text of `PluginMetrics` over plain HTTP/1.1 on a TCP port (ceph-csi's
/// `--metricsport` and `--metricspath`), as a lifecycle `Service`.
///
/// Deliberately small: `GET <path>` answers the metrics, any other path 404, any other method
/// 405. The port is on the node's network (the DaemonSet uses the host network), so a client
/// gets at most `requestTimeout` per connection and at most `maxConnections` are served at
/// once. When all are taken, a new connection takes the place of the oldest one that has not
/// sent a request yet (else it is closed at once): half-open connections, which send nothing,
/// cannot lock scrapes out.
public struct MetricsServer: Service {
    public var host: String
    public var port: Int
    public var path: String
    public let metrics: PluginMetrics
    public let logger: Logger
    public var requestTimeout: Duration = .seconds(10)
    public var maxConnections = 16
    private let boundPort: BoundPort

    /// `host` as ceph-csi picks it: `POD_IP` when set, else every address.
    public init(host: String, port: Int, path: String, metrics: PluginMetrics, logger: Logger) {
        self.host = host
        self.port = port
        self.path = path
        self.metrics = metrics
        self.logger = logger
        boundPort = BoundPort()
    }

    /// The port listened on once `run()` has bound it (the actual one when `port` is 0).
    public var listeningPort: Int? { get async { await boundPort.value } }

    public func run() async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 32)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: child)
                }
            }
        let bound = channel.channel.localAddress?.port ?? port
        await boundPort.set(bound)
        logger.info("serving metrics", metadata: ["address": "\(host):\(bound)", "path": "\(path)"])
        let active = ActiveConnections()
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await channel.executeThenClose { inbound in
                    for try await connection in inbound {
                        guard await active.enter(connection.channel, limit: maxConnections) else {
                            try? await connection.channel.close()
                            continue
                        }
                        group.addTask {
                            await serve(connection, active: active)
                            await active.leave(connection.channel)
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            channel.channel.close(promise: nil)
        }
    }

    /// Answers the requests of one connection until it closes or `requestTimeout` passes.
    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, active: ActiveConnections) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await connection.executeThenClose { inbound, outbound in
                    var head: HTTPRequestHead?
                    var spoke = false
                    for try await part in inbound {
                        switch part {
                        case .head(let request):
                            // Once per connection: it is no longer a half-open one.
                            if !spoke {
                                spoke = true
                                await active.spoke(connection.channel)
                            }
                            head = request
                        case .body: break
                        case .end:
                            guard let request = head else { return }
                            try await respond(to: request, outbound)
                            if !request.isKeepAlive { return }
                            head = nil
                        }
                    }
                }
            }
            group.addTask {
                try? await Task.sleep(for: requestTimeout)
                try? await connection.channel.close()
            }
            group.addTask {
                // An idle keep-alive connection must not hold up the process's shutdown.
                try? await gracefulShutdown()
                try? await connection.channel.close()
            }
            await group.next()
            group.cancelAll()
        }
    }

    private func respond(to request: HTTPRequestHead, _ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        let requestPath = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        let status: HTTPResponseStatus
        let body: [UInt8]
        var headers = HTTPHeaders()
        if requestPath != path {
            (status, body) = (.notFound, Array("not found; metrics are at \(path)\n".utf8))
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        } else if request.method != .GET && request.method != .HEAD {
            (status, body) = (.methodNotAllowed, Array("only GET\n".utf8))
            headers.add(name: "Allow", value: "GET, HEAD")
        } else {
            (status, body) = (.ok, await metrics.render())
            headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
        }
        headers.add(name: "Content-Length", value: "\(body.count)")
        let keepAlive = request.isKeepAlive
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        try await outbound.write(.head(HTTPResponseHead(version: request.version, status: status, headers: headers)))
        if request.method != .HEAD {
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
        }
        try await outbound.write(.end(nil))
    }
}

/// The connections being served, against `MetricsServer.maxConnections`, oldest first.
private actor ActiveConnections {
    private struct Entry {
        let channel: any Channel
        var spoke = false
    }

    private var entries: [Entry] = []

    /// Admits `channel`; at the limit, in place of the oldest connection that has sent no
    /// request (which is closed). False when every connection has.
    func enter(_ channel: any Channel, limit: Int) -> Bool {
        if entries.count >= limit {
            guard let silent = entries.firstIndex(where: { !$0.spoke }) else { return false }
            entries.remove(at: silent).channel.close(promise: nil)
        }
        entries.append(Entry(channel: channel))
        return true
    }

    /// `channel` has sent a request: it is no longer taken for a half-open one.
    func spoke(_ channel: any Channel) {
        if let index = entries.firstIndex(where: { $0.channel === channel }) { entries[index].spoke = true }
    }

    func leave(_ channel: any Channel) {
        entries.removeAll { $0.channel === channel }
    }
}

/// The bound port, for callers (tests) that bind port 0.
private actor BoundPort {
    private(set) var value: Int?
    func set(_ port: Int) { value = port }
}

/// A short name for ServiceGroup's logs (see `PluginServer.description`).
extension MetricsServer: CustomStringConvertible {
    public var description: String { "MetricsServer(\(host):\(port)\(path))" }
}
