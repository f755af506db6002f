import GRPCCore
import NIOCore
import NIOHPACK

/// gRPC's encoding over HTTP/2 (PROTOCOL-HTTP2.md), as far as this server needs it: the
/// 5-byte message prefix, the `grpc-timeout` header, and the status trailers.
enum GRPCWireFormat {
    /// The length-prefix of one message: a compressed flag, then the length, big-endian.
    static let prefixLength = 5

    /// `message` with its uncompressed prefix.
    static func framed(_ message: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: prefixLength + message.count)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt32(message.count))
        buffer.writeBytes(message)
        return buffer
    }

    /// The prefix at the start of `buffer`, once its five bytes have arrived.
    static func prefix(of buffer: ByteBuffer) -> (compressed: Bool, length: Int)? {
        guard let flag = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
              let length = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt32.self) else { return nil }
        return (flag != 0, Int(length))
    }

    /// The call's limit from a `grpc-timeout` value (`100m`, `5S`): at most 8 digits and a unit.
    static func timeout(_ value: String) -> TimeAmount? {
        let digits = value.utf8.dropLast()
        guard (1...8).contains(digits.count), digits.allSatisfy({ (0x30...0x39).contains($0) }),
              let amount = Int64(String(decoding: digits, as: UTF8.self)), let unit = value.utf8.last else { return nil }
        switch unit {
        case UInt8(ascii: "H"): return .hours(amount)
        case UInt8(ascii: "M"): return .minutes(amount)
        case UInt8(ascii: "S"): return .seconds(amount)
        case UInt8(ascii: "m"): return .milliseconds(amount)
        case UInt8(ascii: "u"): return .microseconds(amount)
        case UInt8(ascii: "n"): return .nanoseconds(amount)
        default: return nil
        }
    }

    /// The headers that open a response.
    static let responseHeaders: HPACKHeaders = [":status": "200", "content-type": "application/grpc"]

    /// The trailers that close a successful response.
    static let okTrailers: HPACKHeaders = ["grpc-status": "0"]

    /// A response without a message: headers and status in one block ("Trailers-Only").
    static func trailersOnly(_ error: RPCError) -> HPACKHeaders {
        var headers = responseHeaders
        headers.add(contentsOf: trailers(error))
        return headers
    }

    /// The trailers that close a response with an error (after its headers and messages).
    static func trailers(_ error: RPCError) -> HPACKHeaders {
        var headers: HPACKHeaders = ["grpc-status": String(error.code.rawValue)]
        if !error.message.isEmpty {
            headers.add(name: "grpc-message", value: percentEncoded(error.message))
        }
        return headers
    }

    /// gRPC's grpc-message encoding: printable ASCII but '%' as is, everything else %XX.
    static func percentEncoded(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if (0x20...0x7e).contains(byte) && byte != UInt8(ascii: "%") {
                bytes.append(byte)
            } else {
                bytes += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xf)]]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
