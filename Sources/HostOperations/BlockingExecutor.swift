import Dispatch
import Synchronization

/// A fixed set of threads for blocking work: system calls that can hang on a mount or device
/// (statvfs on a dead FUSE mount, a read from an RBD device whose OSD is gone), librados and
/// librbd calls, memory-hard key derivation. Modelled on swift-nio's `NIOThreadPool`: work
/// items wait in one queue and each runs to completion on one of the threads, so Swift's
/// cooperative pool (one thread per core) never blocks.
///
/// The caller waits at most `limit` and then gets `BlockingTimeout`; the work itself cannot be
/// interrupted and keeps its thread until it returns. A hung device can so take threads, but
/// never more than `threadCount`: later work queues, and its caller still times out.
public final class BlockingExecutor: Sendable {
    /// The process's executor: one for all blocking work, so that its bound is global.
    public static let shared = BlockingExecutor(threadCount: 16)

    public let threadCount: Int
    private let queue = Mutex<[@Sendable () -> Void]>([])
    private let available = DispatchSemaphore(value: 0)
    /// Fires the callers' time limits; a call that ends in time takes its limit back, so it
    /// costs no wake-up (see `DeadlineTimer`).
    private let deadlines = DeadlineTimer(name: "rbdcsi-deadline")

    public init(threadCount: Int) {
        self.threadCount = threadCount
        for index in 0..<threadCount {
            NamedThread.start(name: "rbdcsi-blocking-\(index)") { [self] in
                while true { next()() }
            }
        }
    }

    /// Runs `body` on one of the executor's threads and returns its result; throws
    /// `BlockingTimeout` when it has not finished within `limit`.
    ///
    /// Cancellation: work whose caller is cancelled (or timed out) before a thread takes it is
    /// never started, and the caller gets `CancellationError`. Work already started is waited
    /// for (up to `limit`) even when the caller is cancelled: a librbd call cannot be stopped,
    /// and a caller that went on at once would undo its effects before they land (a snapshot
    /// removed before its create had finished, then created anyway).
    public func run<R: Sendable>(
        _ operation: String, limit: Duration, _ body: @escaping @Sendable () throws -> R
    ) async throws -> R {
        let state = Mutex<CallState<R>>(.idle)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<R, any Error>) in
                let cancelledEarly = state.withLock { state -> Bool in
                    guard case .idle = state else { return true }
                    state = .queued(continuation)
                    return false
                }
                if cancelledEarly { return continuation.resume(throwing: CancellationError()) }
                // Armed before the work is queued, so that the work's disarm always finds it.
                let timeout = deadlines.arm(after: limit) {
                    state.withLock { $0.finish() }?.resume(throwing: BlockingTimeout(operation: operation, limit: limit))
                }
                // Counted from now until it has returned or was dropped, whether or not the
                // caller still waits (see `LingeringWork`).
                let lingering = LingeringWork.current
                lingering?.enter()
                submit { [deadlines] in
                    defer { lingering?.leave() }
                    guard state.withLock({ $0.start() }) else {
                        deadlines.disarm(timeout)
                        return
                    }
                    let result = Result { try body() }
                    deadlines.disarm(timeout)
                    state.withLock { $0.finish() }?.resume(with: result)
                }
            }
        } onCancel: {
            state.withLock { $0.cancel() }?.resume(throwing: CancellationError())
        }
    }

    /// Where one `run` call is: the continuation is resumed exactly once, by whichever of the
    /// work, the time limit and a cancellation before the start comes first.
    private enum CallState<R: Sendable> {
        /// Not yet queued (a cancellation now means it never will be).
        case idle
        case queued(CheckedContinuation<R, any Error>)
        case running(CheckedContinuation<R, any Error>)
        case cancelledBeforeQueued
        case finished

        /// A thread takes the work: whether it should run.
        mutating func start() -> Bool {
            guard case .queued(let continuation) = self else { return false }
            self = .running(continuation)
            return true
        }

        /// The continuation to resume with the result or a timeout, once.
        mutating func finish() -> CheckedContinuation<R, any Error>? {
            switch self {
            case .queued(let continuation), .running(let continuation):
                self = .finished
                return continuation
            case .idle, .cancelledBeforeQueued, .finished:
                return nil
            }
        }

        /// The caller was cancelled: the continuation to resume with `CancellationError` when
        /// the work has not started (it then never does).
        mutating func cancel() -> CheckedContinuation<R, any Error>? {
            switch self {
            case .idle:
                self = .cancelledBeforeQueued
                return nil
            case .queued(let continuation):
                self = .finished
                return continuation
            case .running, .cancelledBeforeQueued, .finished:
                return nil
            }
        }
    }

    private func submit(_ work: @escaping @Sendable () -> Void) {
        queue.withLock { $0.append(work) }
        available.signal()
    }

    private func next() -> @Sendable () -> Void {
        available.wait()
        return queue.withLock { $0.removeFirst() }
    }
}

/// Blocking work that did not finish within its limit (its thread may still be stuck in it).
public struct BlockingTimeout: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var limit: Duration

    public init(operation: String, limit: Duration) {
        self.operation = operation
        self.limit = limit
    }

    public var description: String { "\(operation) did not finish within \(limit)" }
}
