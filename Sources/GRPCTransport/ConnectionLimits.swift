/// How the plugin's gRPC server treats its clients' connections and messages. kubelet keeps one
/// connection per plugin, each sidecar one more: a few are normal, hundreds are not.
public struct ConnectionLimits: Sendable {
    /// The largest request message accepted (grpc-go's default, which ceph-csi keeps).
    public var maxRequestBytes: Int
    /// Connections open at once; one more is closed as soon as it is accepted.
    public var maxConnections: Int
    /// A connection with no RPC for this long is closed (clients reconnect on their next call);
    /// one that never sends a byte, too.
    public var idleTimeout: Duration
    /// Request bytes one connection may hold for calls that have not started (two whole
    /// messages at the largest, by default). A request past it is RESOURCE_EXHAUSTED.
    public var maxBufferedBytesPerConnection: Int
    /// The same across all connections: the most memory unfinished requests can take.
    public var maxBufferedBytes: Int
    /// How long a request's message may take to arrive once its headers have.
    public var requestBodyTimeout: Duration
    /// A connection that starts no call for this long and runs none is closed: it holds only
    /// unfinished requests, or has sent none at all. So clients that never finish a request
    /// cannot keep every connection slot, and a new client waits about this long at most.
    public var stalledConnectionTimeout: Duration
    /// HTTP/2 streams one connection may have open at once.
    public var maxConcurrentStreams: Int

    public init(
        maxRequestBytes: Int = 4 << 20, maxConnections: Int = 64, idleTimeout: Duration = .seconds(300),
        maxBufferedBytesPerConnection: Int? = nil, maxBufferedBytes: Int = 64 << 20,
        requestBodyTimeout: Duration = .seconds(30), stalledConnectionTimeout: Duration = .seconds(60), maxConcurrentStreams: Int = 256
    ) {
        self.maxRequestBytes = maxRequestBytes
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.maxBufferedBytesPerConnection = maxBufferedBytesPerConnection ?? 2 * (maxRequestBytes + 5)
        self.maxBufferedBytes = maxBufferedBytes
        self.requestBodyTimeout = requestBodyTimeout
        self.stalledConnectionTimeout = stalledConnectionTimeout
        self.maxConcurrentStreams = maxConcurrentStreams
    }
}
