import CSystemShims
import CoreMetrics
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs commands as child processes (vfork and exec, `rbdcsi_spawn`), each in its own process
/// group.
///
/// Every child gets `/dev/null` (or the command's bytes) as standard input, pipes for its output,
/// no other inherited descriptor (but a secret as `/dev/fd/3` when the command has one),
/// default signal dispositions, a hard timeout, and SIGKILL as parent-death signal: a child
/// never outlives a plugin that was killed while waiting for it. On timeout or
/// cancellation the whole process group is killed with `SIGKILL`. Each child is waited for on a
/// concurrent libdispatch queue (a thread per running child), never on the server's event loops
/// or the cooperative pool.
public struct ProcessRunner: CommandRunning {
    /// At most this many bytes of each of standard output and standard error are kept.
    public var outputLimit: Int

    public init(outputLimit: Int = 1 << 20) {
        self.outputLimit = outputLimit
    }

    private static let queue = DispatchQueue(label: "rbdcsi.process-runner", attributes: .concurrent)

    public func run(_ command: Command) async throws -> CommandResult {
        let canceller = try Canceller()
        let limit = outputLimit
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<CommandResult, any Error>) in
                Self.queue.async {
                    let result = Result { try ChildProcess.run(command, cancelFD: canceller.readFD, outputLimit: limit) }
                    canceller.close()
                    ChildProcessMetrics.record(command, result)
                    continuation.resume(with: result)
                }
            }
        } onCancel: {
            canceller.fire()
        }
    }
}

/// A self-pipe that wakes the waiting thread when the calling task is cancelled.
private final class Canceller: Sendable {
    let readFD: Int32
    private let writeFD: Mutex<Int32>

    init() throws {
        var fds: [Int32] = [-1, -1]
        guard rbdcsi_pipe_cloexec(&fds, O_NONBLOCK) == 0 else {
            throw CommandError.launchFailed(command: "pipe", reason: String(cString: strerror(errno)))
        }
        readFD = fds[0]
        writeFD = Mutex(fds[1])
    }

    func fire() {
        writeFD.withLock { fd in
            guard fd >= 0 else { return }
            var byte: UInt8 = 1
            _ = write(fd, &byte, 1)
        }
    }

    func close() {
        writeFD.withLock { fd in
            guard fd >= 0 else { return }
            _ = Glibc.close(fd)
            _ = Glibc.close(readFD)
            fd = -1
        }
    }
}

/// The blocking part: spawn, feed, collect, wait, kill.
private enum ChildProcess {
    static func run(_ command: Command, cancelFD: Int32, outputLimit: Int) throws -> CommandResult {
        let name = command.description
        var stdoutPipe: [Int32] = [-1, -1]
        var stderrPipe: [Int32] = [-1, -1]
        var stdinPipe: [Int32] = [-1, -1]
        guard rbdcsi_pipe_cloexec(&stdoutPipe, 0) == 0 else { throw launchError(name, errno) }
        guard rbdcsi_pipe_cloexec(&stderrPipe, 0) == 0 else {
            closeAll(stdoutPipe)
            throw launchError(name, errno)
        }
        if command.standardInput != nil {
            guard rbdcsi_pipe_cloexec(&stdinPipe, 0) == 0 else {
                closeAll(stdoutPipe + stderrPipe)
                throw launchError(name, errno)
            }
        } else {
            stdinPipe[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)
        }

        guard let path = ExecutableSearch.find(command.executable) else {
            closeAll(stdinPipe + stdoutPipe + stderrPipe)
            throw CommandError.launchFailed(command: name, reason: "\(command.executable): command not found")
        }
        var secretFD: Int32 = -1
        if let secret = command.secretFile {
            secretFD = secret.withUnsafeBufferPointer { rbdcsi_secret_fd($0.baseAddress, $0.count) }
            guard secretFD >= 0 else {
                let code = errno
                closeAll(stdinPipe + stdoutPipe + stderrPipe)
                throw launchError(name, code)
            }
        }
        var pid: pid_t = 0
        let spawnError = withCStrings([command.executable] + command.arguments) { argv in
            rbdcsi_spawn(&pid, path, argv, environ, stdinPipe[0], stdoutPipe[1], stderrPipe[1], secretFD)
        }
        closeAll([stdinPipe[0], stdoutPipe[1], stderrPipe[1], secretFD])
        if spawnError != 0 {
            closeAll([stdinPipe[1], stdoutPipe[0], stderrPipe[0]])
            if spawnError == ENOENT {
                throw CommandError.launchFailed(command: name, reason: "\(command.executable): command not found")
            }
            throw launchError(name, spawnError)
        }

        if let input = command.standardInput, stdinPipe[1] >= 0 {
            // Small inputs (keys, passphrases) fit in the pipe buffer; a child that does not
            // read them gets EPIPE, which is ignored here.
            input.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let n = write(stdinPipe[1], buffer.baseAddress! + offset, buffer.count - offset)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    offset += n
                }
            }
            _ = close(stdinPipe[1])
        }

        var collector = OutputCollector(stdoutFD: stdoutPipe[0], stderrFD: stderrPipe[0], limit: outputLimit)
        defer { collector.closeAll() }
        let pidFD = rbdcsi_pidfd_open(pid)
        defer { if pidFD >= 0 { _ = close(pidFD) } }
        let deadline = Monotonic.now() + command.timeout.milliseconds

        while true {
            if let status = reapIfExited(pid) {
                collector.drain()
                return collector.result(exitCode: decode(status))
            }
            let remaining = deadline - Monotonic.now()
            if remaining <= 0 {
                killGroup(pid)
                collector.drain()
                throw CommandError.timedOut(command: name, after: command.timeout, standardError: collector.standardError)
            }
            var fds = collector.pollFDs()
            fds.append(pollfd(fd: cancelFD, events: Int16(POLLIN), revents: 0))
            if pidFD >= 0 { fds.append(pollfd(fd: pidFD, events: Int16(POLLIN), revents: 0)) }
            // Without a pidfd (kernels before 5.3) the exit is noticed by polling waitpid.
            let waitMillis = pidFD >= 0 ? remaining : min(remaining, 10)
            let ready = poll(&fds, nfds_t(fds.count), Int32(clamping: waitMillis))
            if ready < 0 && errno != EINTR {
                killGroup(pid)
                throw launchError(name, errno)
            }
            if ready <= 0 { continue }
            for entry in fds where entry.revents != 0 {
                if entry.fd == cancelFD {
                    killGroup(pid)
                    throw CommandError.cancelled(command: name)
                } else if entry.fd != pidFD {
                    collector.read(from: entry.fd)
                }
            }
        }
    }

    /// Kills the child's process group and reaps the child, waiting at most a few seconds (a
    /// process stuck in uninterruptible sleep is left to a background reaper).
    private static func killGroup(_ pid: pid_t) {
        _ = kill(-pid, SIGKILL)
        _ = kill(pid, SIGKILL)
        let giveUp = Monotonic.now() + 5_000
        while Monotonic.now() < giveUp {
            if reapIfExited(pid) != nil { return }
            usleep(2_000)
        }
        DispatchQueue.global().async {
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
    }

    /// The wait status if the child has exited (and is now reaped), nil while it runs.
    private static func reapIfExited(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return status }
            if r < 0 && errno == EINTR { continue }
            if r < 0 { return 255 << 8 }  // ECHILD: someone else reaped it
            return nil
        }
    }

    private static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    private static func launchError(_ name: String, _ code: Int32) -> CommandError {
        .launchFailed(command: name, reason: String(cString: strerror(code)))
    }

    private static func closeAll(_ fds: [Int32]) {
        for fd in fds where fd >= 0 { _ = close(fd) }
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for p in pointers { free(p) } }
        return body(&pointers)
    }
}

/// Reads a child's standard output and standard error, keeping at most `limit` bytes of each.
private struct OutputCollector {
    private var fds: [Int32]
    private var buffers: [[UInt8]] = [[], []]
    private let limit: Int

    init(stdoutFD: Int32, stderrFD: Int32, limit: Int) {
        fds = [stdoutFD, stderrFD]
        self.limit = limit
    }

    var standardError: String { String(decoding: buffers[1], as: UTF8.self) }

    func pollFDs() -> [pollfd] {
        fds.filter { $0 >= 0 }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
    }

    /// One read from `fd`; closes it at end of file.
    mutating func read(from fd: Int32) {
        guard let index = fds.firstIndex(of: fd) else { return }
        _ = readOnce(index)
    }

    /// Reads what is already in the pipes without waiting: after the child exited, a
    /// daemonized grandchild may hold the pipes open forever.
    mutating func drain() {
        for index in fds.indices where fds[index] >= 0 {
            _ = fcntl(fds[index], F_SETFL, fcntl(fds[index], F_GETFL) | O_NONBLOCK)
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
            standardError: String(decoding: buffers[1], as: UTF8.self)
        )
    }
}

/// Milliseconds on the monotonic clock.
enum Monotonic {
    static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

extension Duration {
    /// The duration in whole milliseconds (rounded up, so a 1 µs timeout is not zero).
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    }
}
