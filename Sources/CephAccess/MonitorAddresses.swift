import HostOperations
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Gives bare monitor addresses (`host:port`, as ceph-csi's config file usually has them) the
/// messenger protocol their port speaks (`v1:host:port` or `v2:host:port`).
///
/// Ceph guesses the protocol of a bare address from its port (3300 v2, 6789 v1) and, for
/// any other port, tries v2 first: against a v1 port the handshake then fails and is retried
/// until the mount timeout. With a good key the fallback to v1 happens to work; with a wrong
/// key or unknown user, the EACCES that v1 answers at once turns into a 10 s "Connection timed
/// out". One banner read per address (cached) tells which protocol listens there.
public enum MonitorAddresses {
    private static let known = Mutex<[String: String]>([:])

    /// `monitors` with each bare `host:port` given its protocol prefix; entries that already
    /// have one, or whose port does not answer with a Ceph banner within `limit`, unchanged.
    public static func withProtocols(_ monitors: [String], limit: Duration = .seconds(1)) async -> [String] {
        var result: [String] = []
        for entry in monitors {
            var parts: [String] = []
            for address in entry.split(separator: ",").map({ String($0).trimmingWhitespace() }) {
                parts.append(await withProtocol(address, limit: limit))
            }
            result.append(parts.joined(separator: ","))
        }
        return result
    }

    static func withProtocol(_ address: String, limit: Duration) async -> String {
        guard let (host, port) = hostAndPort(address) else { return address }
        if let cached = known.withLock({ $0[address] }) { return cached }
        let prefix = try? await BlockingExecutor.shared.run("read the banner of monitor \(address)", limit: limit + .milliseconds(500)) {
            banner(host: host, port: port, limit: limit)
        }
        guard let protocolPrefix = prefix ?? nil else { return address }
        let resolved = "\(protocolPrefix):\(address)"
        known.withLock { $0[address] = resolved }
        return resolved
    }

    /// Host and port of a bare address (`1.2.3.4:6789`, `[::1]:6789`, `mon.example:3300`); nil
    /// for one with a protocol prefix, an address vector, or no port.
    static func hostAndPort(_ address: String) -> (String, String)? {
        if address.hasPrefix("v1:") || address.hasPrefix("v2:") || address.hasPrefix("any:") { return nil }
        if address.hasPrefix("[") {
            guard !address.hasPrefix("[v"), let close = address.firstIndex(of: "]") else { return nil }
            let rest = address[address.index(after: close)...]
            guard rest.hasPrefix(":"), rest.count > 1 else { return nil }
            return (String(address[address.index(after: address.startIndex)..<close]), String(rest.dropFirst()))
        }
        let pieces = address.split(separator: ":", omittingEmptySubsequences: false)
        guard pieces.count == 2, !pieces[0].isEmpty, let port = Int(pieces[1]), (1...65535).contains(port) else { return nil }
        return (String(pieces[0]), String(pieces[1]))
    }

    /// "v1" or "v2" from the first bytes a Ceph monitor sends on connect ("ceph v027" for the
    /// legacy messenger, "ceph v2\n" for msgr2); nil for anything else.
    static func protocolOf(banner bytes: [UInt8]) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        if text.hasPrefix("ceph v2\n") { return "v2" }
        if text.hasPrefix("ceph v027") { return "v1" }
        return nil
    }

    /// Connects (bounded) and reads the banner; blocking, so it runs on the executor.
    private static func banner(host: String, port: String, limit: Duration) -> String? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, port, &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 && errno != EINPROGRESS { return nil }
        var bytes: [UInt8] = []
        let deadline = ContinuousClock.now + limit
        while bytes.count < 9 {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return nil }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, Int32(clamping: remaining.milliseconds))
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { return nil }
            var chunk = [UInt8](repeating: 0, count: 9 - bytes.count)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            guard n > 0 else { return nil }
            bytes += chunk[0..<n]
            if let found = protocolOf(banner: bytes) { return found }
        }
        return protocolOf(banner: bytes)
    }
}
