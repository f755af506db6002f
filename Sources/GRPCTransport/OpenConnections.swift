import NIOCore
import Synchronization

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
