import HostOperations

/// Runs a blocking librados/librbd call (or a memory-hard key derivation) on the host layer's
/// `BlockingExecutor`, off Swift's cooperative pool, and gives up waiting when its time limit
/// passes. A call whose caller is cancelled before it starts is never started.
///
/// librados has its own op timeouts (`rados_osd_op_timeout`, `rados_mon_op_timeout`,
/// `client_mount_timeout`); this is the backstop for a call that ignores them. A call given
/// up on keeps running on its thread, holding its captures (a connection stays alive until
/// it returns), so nothing is freed under it.
public enum BlockingCall {
    public static func run<R: Sendable>(
        _ operation: String, limit: Duration, _ body: @escaping @Sendable () throws -> R
    ) async throws -> R {
        do {
            return try await BlockingExecutor.shared.run(operation, limit: limit, body)
        } catch let timeout as BlockingTimeout {
            throw CephAccessError.timedOut(operation: timeout.operation, limit: timeout.limit)
        }
    }
}
