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
    /// `BlockingTimeout` when it has not finished within `limit`, and `CancellationError`
    /// when the calling task is cancelled (the body still runs to its end).
    public func run<R: Sendable>(
        _ operation: String, limit: Duration, _ body: @escaping @Sendable () throws -> R
    ) async throws -> R {
        let slot = Mutex<CheckedContinuation<R, any Error>?>(nil)
        @Sendable func finish(_ result: Result<R, any Error>) {
            slot.withLock { $0.take() }?.resume(with: result)
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<R, any Error>) in
                slot.withLock { $0 = continuation }
                // Armed before the work is queued, so that the work's disarm always finds it.
                let timeout = deadlines.arm(after: limit) {
                    finish(.failure(BlockingTimeout(operation: operation, limit: limit)))
                }
                submit { [deadlines] in
                    let result = Result { try body() }
                    deadlines.disarm(timeout)
                    finish(result)
                }
            }
        } onCancel: {
            finish(.failure(CancellationError()))
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
