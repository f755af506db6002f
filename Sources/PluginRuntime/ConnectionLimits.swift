import NIOCore
import Synchronization

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

    /// The connections admitted and still open: counted for `maxConnections`, and asked to
    /// close at a graceful shutdown.
    final class OpenConnections: Sendable {
        private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

        var count: Int { channels.withLock { $0.count } }

        /// Admits `channel`, or closes it and returns false when the limit is reached. An
        /// admitted channel leaves the set when it closes, and is closed when it stays silent
        /// for `idleTimeout`. Called on the channel's event loop.
        func admit(_ channel: any Channel, limit: Int) throws -> Bool {
            let key = ObjectIdentifier(channel)
            let admitted = channels.withLock { channels in
                guard channels.count < limit else { return false }
                channels[key] = channel
                return true
            }
            guard admitted else {
                channel.close(promise: nil)
                return false
            }
            channel.closeFuture.whenComplete { _ in
                _ = self.channels.withLock { $0.removeValue(forKey: key) }
            }
            try channel.pipeline.syncOperations.addHandler(SilentConnectionCloser(timeout: idleTimeout), position: .first)
            return true
        }

        /// Asks every connection to close once its calls have ended, and waits until they have.
        func quiesce() async {
            let open = channels.withLock { Array($0.values) }
            for channel in open {
                channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
            }
            for channel in open {
                try? await channel.closeFuture.get()
            }
        }

        let idleTimeout: Duration

        init(idleTimeout: Duration) {
            self.idleTimeout = idleTimeout
        }
    }
}

/// Closes a connection that sends nothing at all within the idle timeout: HTTP/2's idle
/// handling starts only once a client has spoken, so a silent one would otherwise hold its
/// connection slot forever.
final class SilentConnectionCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    let timeout: Duration
    private var spoke = false

    init(timeout: Duration) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        let delay = TimeAmount(timeout)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: delay) {
            if !handler.value.spoke { channel.close(promise: nil) }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
        if !spoke {
            spoke = true
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
        }
    }
}

/// The request bytes all connections of one server hold for calls that have not started,
/// against `ConnectionLimits.maxBufferedBytes`. Shared by the connections' event loops.
final class RequestBudget: Sendable {
    let limit: Int
    private let used = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Bytes counted now.
    var inUse: Int { used.load(ordering: .relaxed) }

    /// Counts `count` bytes; false, with nothing counted, when that would pass the limit.
    func reserve(_ count: Int) -> Bool {
        var current = used.load(ordering: .relaxed)
        while true {
            guard current + count <= limit else { return false }
            let (exchanged, original) = used.compareExchange(expected: current, desired: current + count, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    func release(_ count: Int) {
        used.subtract(count, ordering: .relaxed)
    }
}
