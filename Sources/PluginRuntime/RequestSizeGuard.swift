import NIOCore
import NIOHPACK
import NIOHTTP2

/// The first handler of every HTTP/2 stream: a request message larger than `limit` is
/// answered with RESOURCE_EXHAUSTED naming the limit, before any of it is buffered.
///
/// grpc-swift's own check (`maxRequestPayloadSize`) resets the stream without a status, which a
/// client sees as CANCELLED with no message; an operator then cannot tell a 10 MB volume id
/// from a crash. This guard reads each message's 5-byte gRPC prefix as it streams past.
final class RequestSizeGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    let limit: Int
    /// Bytes of the current message's prefix read so far.
    private var prefix: [UInt8] = []
    /// Bytes of the current message's body still to come.
    private var remaining = 0
    private var rejected = false

    init(limit: Int) {
        self.limit = limit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !rejected else { return }
        let payload = unwrapInboundIn(data)
        if case .data(let frame) = payload, case .byteBuffer(let buffer) = frame.data, let length = oversizedMessage(in: buffer) {
            reject(context: context, length: length)
            return
        }
        context.fireChannelRead(data)
    }

    /// Walks the message prefixes in `buffer`; the length of the first message over the limit.
    private func oversizedMessage(in buffer: ByteBuffer) -> Int? {
        var view = buffer.readableBytesView[...]
        while !view.isEmpty {
            if remaining > 0 {
                let skip = min(remaining, view.count)
                view = view.dropFirst(skip)
                remaining -= skip
                continue
            }
            let take = min(5 - prefix.count, view.count)
            prefix += view.prefix(take)
            view = view.dropFirst(take)
            guard prefix.count == 5 else { break }
            let length = prefix[1...4].reduce(0) { $0 << 8 | Int($1) }
            prefix = []
            if length > limit { return length }
            remaining = length
        }
        return nil
    }

    private func reject(context: ChannelHandlerContext, length: Int) {
        rejected = true
        let message = "request message of \(length) bytes exceeds the limit of \(limit) bytes (volume ids, secrets and contexts must fit in it)"
        let trailers: HPACKHeaders = [
            ":status": "200",
            "content-type": "application/grpc",
            "grpc-status": "8",  // RESOURCE_EXHAUSTED
            "grpc-message": Self.percentEncoded(message),
        ]
        let frame = HTTP2Frame.FramePayload.headers(.init(headers: trailers, endStream: true))
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    /// gRPC's grpc-message encoding: printable ASCII but '%' as is, everything else %XX.
    static func percentEncoded(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            if (0x20...0x7e).contains(byte) && byte != UInt8(ascii: "%") {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return result
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
