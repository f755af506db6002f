import CSystemShims

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One child process from spawn to its caller's answer, driven by `ChildSupervisor`'s thread:
/// its descriptors, its output so far, its deadline, and why it was killed.
struct RunningChild {
    enum KillReason {
        case timedOut
        case cancelled
    }

    let request: ChildSupervisor.Request
    let pid: pid_t
    /// -1 where the kernel has no pidfd (before 5.3).
    let pidFD: Int32
    private var stdinFD: Int32
    private var input: [UInt8]
    private var inputOffset = 0
    private var output: OutputCollector
    private let deadline: Int64
    private var exitStatus: Int32?
    private var killed: (reason: KillReason, giveUp: Int64)?
    private var answered = false

    /// Spawns the request's command with its pipes; throws `CommandError.launchFailed`.
    static func spawn(_ request: ChildSupervisor.Request) throws -> RunningChild {
        let command = request.command
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
        // Every end the thread reads or writes is non-blocking: it serves all children.
        for fd in [stdinPipe[1], stdoutPipe[0], stderrPipe[0]] where fd >= 0 {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        return RunningChild(
            request: request, pid: pid, pidFD: rbdcsi_pidfd_open(pid), stdinFD: stdinPipe[1], input: command.standardInput ?? [],
            output: OutputCollector(stdoutFD: stdoutPipe[0], stderrFD: stderrPipe[0], limit: request.outputLimit),
            deadline: Monotonic.now() + command.timeout.milliseconds
        )
    }

    private init(request: ChildSupervisor.Request, pid: pid_t, pidFD: Int32, stdinFD: Int32, input: [UInt8], output: OutputCollector, deadline: Int64) {
        self.request = request
        self.pid = pid
        self.pidFD = pidFD
        self.stdinFD = stdinFD
        self.input = input
        self.output = output
        self.deadline = deadline
    }

    /// Exited and reaped, or killed and then reaped or given up on.
    var isFinished: Bool {
        if let killed { return exitStatus != nil || Monotonic.now() >= killed.giveUp }
        return exitStatus != nil
    }

    var isReaped: Bool { exitStatus != nil }

    /// The time the supervisor must look at this child again by.
    var nextDeadline: Int64 { killed?.giveUp ?? deadline }

    func owns(_ fd: Int32) -> Bool { fd == pidFD || fd == stdinFD || output.owns(fd) }

    func pollFDs() -> [pollfd] {
        var fds = killed == nil ? output.pollFDs() : []
        if stdinFD >= 0 { fds.append(pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0)) }
        if pidFD >= 0 { fds.append(pollfd(fd: pidFD, events: Int16(POLLIN), revents: 0)) }
        return fds
    }

    mutating func handle(fd: Int32, events: Int16) {
        if fd == pidFD {
            _ = reapIfExited()
        } else if fd == stdinFD {
            feedInput()
        } else {
            output.read(from: fd)
        }
    }

    /// Small inputs (keys, passphrases) fit in the pipe at once; larger ones are written as the
    /// child reads. A child that does not read them gets EPIPE, which ends the feeding.
    private mutating func feedInput() {
        while inputOffset < input.count {
            let n = input.withUnsafeBytes { write(stdinFD, $0.baseAddress! + inputOffset, $0.count - inputOffset) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN { return }
            if n <= 0 { break }
            inputOffset += n
        }
        _ = close(stdinFD)
        stdinFD = -1
    }

    /// Kills the whole process group; the caller is answered once the child is reaped, or
    /// after 5 s for one stuck in uninterruptible sleep.
    mutating func kill(because reason: KillReason) {
        guard killed == nil, exitStatus == nil else { return }
        _ = Glibc.kill(-pid, SIGKILL)
        _ = Glibc.kill(pid, SIGKILL)
        killed = (reason, Monotonic.now() + 5_000)
    }

    mutating func checkTime(now: Int64) {
        if exitStatus == nil, pidFD < 0 || killed != nil { _ = reapIfExited() }
        if exitStatus == nil, killed == nil, now >= deadline { kill(because: .timedOut) }
    }

    /// Whether the child has exited (and is now reaped).
    @discardableResult
    mutating func reapIfExited() -> Bool {
        if exitStatus != nil { return true }
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                exitStatus = status
                return true
            }
            if r < 0 && errno == EINTR { continue }
            if r < 0 {
                exitStatus = 255 << 8  // ECHILD: someone else reaped it
                return true
            }
            return false
        }
    }

    /// Answers the caller (once) and closes what the child no longer needs; the pidfd stays
    /// open for an abandoned child until it is reaped.
    mutating func finish() {
        guard !answered else { return }
        answered = true
        // After the child exited, a daemonized grandchild may hold the pipes open forever:
        // only what is already in them is read.
        output.drain()
        output.closeAll()
        if stdinFD >= 0 {
            _ = close(stdinFD)
            stdinFD = -1
        }
        let name = request.command.description
        let result: Result<CommandResult, any Error>
        switch killed?.reason {
        case .timedOut:
            result = .failure(CommandError.timedOut(command: name, after: request.command.timeout, standardError: output.standardError))
        case .cancelled:
            result = .failure(CommandError.cancelled(command: name))
        case nil:
            result = .success(output.result(exitCode: Self.decode(exitStatus ?? 255 << 8)))
        }
        if isReaped, pidFD >= 0 { _ = close(pidFD) }
        ChildProcessMetrics.record(request.command, result)
        request.continuation.resume(with: result)
    }

    /// Closes the pidfd of an abandoned child once reaped.
    func closePidFD() {
        if pidFD >= 0 { _ = close(pidFD) }
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
