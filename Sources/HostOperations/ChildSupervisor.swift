import CSystemShims
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The one thread that runs the plugin's child processes: it spawns each (a vfork and exec take
/// microseconds), then watches every running child in a single `poll` over their output pipes,
/// their standard input while it is being fed, and their pidfds, with the nearest deadline as
/// its timeout. It reads output, notices exits, kills the process groups of children whose
/// time is up or whose caller was cancelled, and resumes each caller once.
///
/// A hung child so holds three or four descriptors and one entry in the poll set, not a
/// thread; the number of children is bounded by what callers run (each with a timeout), and
/// the thread count of the process does not grow with it.
final class ChildSupervisor: Sendable {
    static let shared = ChildSupervisor()

    /// What callers hand the thread; it takes them when woken.
    private struct Inbox {
        var requests: [Request] = []
        var cancelled: Set<Int> = []
        var nextID = 0
    }

    struct Request: Sendable {
        let id: Int
        let command: Command
        let outputLimit: Int
        let continuation: CheckedContinuation<CommandResult, any Error>
    }

    private let inbox = Mutex(Inbox())
    private let wakeRead: Int32
    private let wakeWrite: Int32

    private init() {
        var fds: [Int32] = [-1, -1]
        precondition(rbdcsi_pipe_cloexec(&fds, O_NONBLOCK) == 0, "cannot create the child supervisor's wake pipe: \(errno)")
        wakeRead = fds[0]
        wakeWrite = fds[1]
        NamedThread.start(name: "rbdcsi-children") { [self] in
            // A child that exits before reading its standard input makes the write EPIPE; the
            // signal is blocked on this thread so that it is that error and not the process's
            // death. (Children start with an empty mask and default dispositions.)
            var pipeSignal = sigset_t()
            sigemptyset(&pipeSignal)
            sigaddset(&pipeSignal, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
            var children = ChildSet()
            while true { turn(&children) }
        }
    }

    /// Runs `command` to its end. A caller cancelled before the child is spawned never starts
    /// it; one cancelled later has its child's process group killed, and gets
    /// `CommandError.cancelled` once the child is reaped (or given up on after 5 s).
    func run(_ command: Command, outputLimit: Int) async throws -> CommandResult {
        let id = inbox.withLock { inbox in
            defer { inbox.nextID += 1 }
            return inbox.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<CommandResult, any Error>) in
                // Checked under the lock the cancellation handler takes: a caller cancelled before
                // this point is answered here, one cancelled after finds its request queued.
                let queued = inbox.withLock { inbox -> Bool in
                    guard !Task.isCancelled else { return false }
                    inbox.requests.append(Request(id: id, command: command, outputLimit: outputLimit, continuation: continuation))
                    return true
                }
                guard queued else { return continuation.resume(throwing: CommandError.cancelled(command: command.description)) }
                wake()
            }
        } onCancel: {
            inbox.withLock { _ = $0.cancelled.insert(id) }
            wake()
        }
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    /// One round of the thread: take new requests and cancellations, wait for the next event
    /// or deadline, handle what happened.
    private func turn(_ children: inout ChildSet) {
        let (requests, cancelled) = inbox.withLock { inbox in
            defer {
                inbox.requests = []
                inbox.cancelled = []
            }
            return (inbox.requests, inbox.cancelled)
        }
        for request in requests {
            if cancelled.contains(request.id) {
                request.continuation.resume(throwing: CommandError.cancelled(command: request.command.description))
                continue
            }
            children.start(request)
        }
        for id in cancelled { children.cancel(id) }
        children.settle()

        var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        fds += children.pollFDs()
        let ready = poll(&fds, nfds_t(fds.count), children.pollTimeout())
        guard ready > 0 else { return }
        if fds[0].revents != 0 { drainWakePipe() }
        for entry in fds.dropFirst() where entry.revents != 0 {
            children.handle(fd: entry.fd, events: entry.revents)
        }
    }

    private func drainWakePipe() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while buffer.withUnsafeMutableBytes({ read(wakeRead, $0.baseAddress, $0.count) }) > 0 {}
    }
}

/// The supervisor thread's children, by request id: only that thread touches it.
struct ChildSet {
    private var running: [Int: RunningChild] = [:]
    /// Children killed and given up on (stuck in uninterruptible sleep): reaped when they
    /// finally exit, so that none stays a zombie.
    private var abandoned: [RunningChild] = []

    mutating func start(_ request: ChildSupervisor.Request) {
        do {
            running[request.id] = try RunningChild.spawn(request)
        } catch {
            ChildProcessMetrics.record(request.command, .failure(error))
            request.continuation.resume(throwing: error)
        }
    }

    mutating func cancel(_ id: Int) {
        running[id]?.kill(because: .cancelled)
    }

    /// Checks exits, deadlines and kill give-ups; resumes the callers of children that ended.
    mutating func settle() {
        let now = Monotonic.now()
        for id in Array(running.keys) {
            guard var child = running[id] else { continue }
            child.checkTime(now: now)
            if child.isFinished {
                running[id] = nil
                child.finish()
                if !child.isReaped { abandoned.append(child) }
            } else {
                running[id] = child
            }
        }
        var stillStuck: [RunningChild] = []
        for var child in abandoned {
            if child.reapIfExited() {
                child.closePidFD()
            } else {
                stillStuck.append(child)
            }
        }
        abandoned = stillStuck
    }

    func pollFDs() -> [pollfd] {
        running.values.flatMap { $0.pollFDs() } + abandoned.compactMap { $0.pidFD >= 0 ? pollfd(fd: $0.pidFD, events: Int16(POLLIN), revents: 0) : nil }
    }

    /// Until the nearest deadline; without pidfds (kernels before 5.3) exits are noticed by
    /// polling `waitpid` every 10 ms (1 s for abandoned children).
    func pollTimeout() -> Int32 {
        let now = Monotonic.now()
        var wait = Int64.max
        for child in running.values {
            wait = min(wait, max(0, child.nextDeadline - now))
            if child.pidFD < 0 { wait = min(wait, 10) }
        }
        if abandoned.contains(where: { $0.pidFD < 0 }) { wait = min(wait, 1000) }
        return wait == .max ? -1 : Int32(clamping: wait)
    }

    mutating func handle(fd: Int32, events: Int16) {
        for id in Array(running.keys) where running[id]!.owns(fd) {
            running[id]!.handle(fd: fd, events: events)
            return
        }
        // An abandoned child's pidfd: reaped in `settle`.
    }
}
