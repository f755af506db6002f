import Dispatch
import Synchronization

/// Runs a blocking call (librados/librbd, a memory-hard key derivation) on a Dispatch
/// thread, off Swift's cooperative pool, and gives up waiting when its time limit passes or
/// the caller is cancelled.
///
/// librados has its own op timeouts (`rados_osd_op_timeout`, `rados_mon_op_timeout`,
/// `client_mount_timeout`); this is the backstop for a call that ignores them. A call given
/// up on keeps running on its thread, holding its captures (a connection stays alive until
/// it returns), so nothing is freed under it.
public enum BlockingCall {
    public static func run<R: Sendable>(
        _ operation: String, limit: Duration, _ body: @escaping @Sendable () throws -> R
    ) async throws -> R {
        let slot = Mutex<CheckedContinuation<R, any Error>?>(nil)
        @Sendable func finish(_ result: Result<R, any Error>) {
            slot.withLock { $0.take() }?.resume(with: result)
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<R, any Error>) in
                slot.withLock { $0 = continuation }
                DispatchQueue.global().async {
                    finish(Result { try body() })
                }
                let nanoseconds = UInt64(max(0, limit.components.seconds)) * 1_000_000_000
                    + UInt64(max(0, limit.components.attoseconds / 1_000_000_000))
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) {
                    finish(.failure(CephAccessError.timedOut(operation: operation, limit: limit)))
                }
            }
        } onCancel: {
            finish(.failure(CancellationError()))
        }
    }
}
