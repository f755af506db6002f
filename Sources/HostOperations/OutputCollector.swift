#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads a child's standard output and standard error, keeping at most `limit` bytes of each.
struct OutputCollector {
    private var fds: [Int32]
    private var buffers: [[UInt8]] = [[], []]
    private let limit: Int

    init(stdoutFD: Int32, stderrFD: Int32, limit: Int) {
        fds = [stdoutFD, stderrFD]
        self.limit = limit
    }

    var standardError: String { String(decoding: buffers[1], as: UTF8.self) }

    func owns(_ fd: Int32) -> Bool { fd >= 0 && fds.contains(fd) }

    func pollFDs() -> [pollfd] {
        fds.filter { $0 >= 0 }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
    }

    /// One read from `fd`; closes it at end of file.
    mutating func read(from fd: Int32) {
        guard let index = fds.firstIndex(of: fd) else { return }
        _ = readOnce(index)
    }

    /// Reads what is already in the pipes (non-blocking) without waiting for more.
    mutating func drain() {
        for index in fds.indices where fds[index] >= 0 {
            while readOnce(index) {}
        }
    }

    /// Returns whether more data may follow.
    private mutating func readOnce(_ index: Int) -> Bool {
        let fd = fds[index]
        guard fd >= 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { return true }
        if n <= 0 {
            if n == 0 || errno != EAGAIN {
                _ = close(fd)
                fds[index] = -1
            }
            return false
        }
        let room = max(0, limit - buffers[index].count)
        buffers[index].append(contentsOf: chunk[0..<min(n, room)])
        return true
    }

    mutating func closeAll() {
        for index in fds.indices where fds[index] >= 0 {
            _ = close(fds[index])
            fds[index] = -1
        }
    }

    func result(exitCode: Int32) -> CommandResult {
        CommandResult(
            exitCode: exitCode,
            standardOutput: String(decoding: buffers[0], as: UTF8.self),
            standardError: standardError
        )
    }
}
