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

    public init(maxRequestBytes: Int = 4 << 20, maxConnections: Int = 64, idleTimeout: Duration = .seconds(300)) {
        self.maxRequestBytes = maxRequestBytes
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
    }

    /// Counts open connections for `maxConnections`.
    final class Counter: Sendable {
        private let open = Mutex(0)

        var count: Int { open.withLock { $0 } }

        /// Admits `channel`, or closes it and returns false when the limit is reached. An
        /// admitted channel leaves the count when it closes, and is closed when it stays silent
        /// for `idleTimeout`. Called on the channel's event loop.
        func admit(_ channel: any Channel, limit: Int) throws -> Bool {
            let admitted = open.withLock { count in
                guard count < limit else { return false }
                count += 1
                return true
            }
            guard admitted else {
                channel.close(promise: nil)
                return false
            }
            channel.closeFuture.whenComplete { _ in self.open.withLock { $0 -= 1 } }
            try channel.pipeline.syncOperations.addHandler(SilentConnectionCloser(timeout: idleTimeout), position: .first)
            return true
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
        let (seconds, attoseconds) = timeout.components
        let delay = TimeAmount.nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
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
