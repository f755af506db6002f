import NIOCore

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
