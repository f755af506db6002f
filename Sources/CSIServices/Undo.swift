import CephAccess
import HostOperations
import Logging

/// Undoing what a call made, whatever became of the call.
///
/// A call is cancelled when its client's deadline passes or the client goes away, and a
/// cancelled task's blocking Ceph calls are never started (`BlockingExecutor`): an undo run
/// in it would silently do nothing and leave a snapshot on a source, or an image, that no
/// record leads to. So the steps run in a task of their own, which the caller's cancellation
/// does not reach, and which the caller waits for.
enum Undo {
    /// Undoes `what` after `error` by running `steps` to completion (each bounded by its own
    /// time limit), unless `error` leaves a librbd call running: a call past its time limit
    /// goes on in its thread (a snapshot create waiting for a dead client's watch to
    /// acknowledge, say) and may land after any undo. Then nothing is undone and the
    /// reservation is kept; the controller's lock stays held until the call has returned
    /// (`LingeringWork`), so that the retry, with the same UUID, finds what landed and removes
    /// or reuses it. A failed step is logged, and the steps after it do not run: the caller's
    /// record (the journal reservation, undone last) so stays, and leads the retry to what is
    /// left.
    static func after(_ error: any Error, _ what: String, logger: Logger, _ steps: @escaping @Sendable () async throws -> Void) async {
        if Self.leavesWorkRunning(error) {
            logger.warning("a step did not finish in time; \(what) is kept for the retry", metadata: ["error": "\(error)"])
            return
        }
        do {
            try await Task { try await steps() }.value
        } catch {
            logger.warning("could not undo \(what); the reservation is kept for the retry to finish it", metadata: ["error": "\(error)"])
        }
    }

    private static func leavesWorkRunning(_ error: any Error) -> Bool {
        if case CephAccessError.timedOut? = error as? CephAccessError { return true }
        return error is BlockingTimeout
    }
}
