import HostOperations
import Synchronization

/// Per-volume try-locks: one operation per volume id at a time; a second one is refused with
/// ABORTED at once (kubelet retries). Different volumes never wait on each other.
///
/// With `holdWhileWorkLingers` (the controller's), a lock is released only once every blocking
/// call its operation started has returned (`LingeringWork`): a librbd call past its time limit
/// that lands late would otherwise undo the retry's clean-up (a snapshot made on a source after
/// the retry removed it, left for good). The node's locks do not: a statvfs hung on a dead
/// mount must not keep the unstage that clears it out.
public final class VolumeLocks: Sendable {
    private let held = Mutex<Set<String>>([])
    private let holdWhileWorkLingers: Bool

    public init(holdWhileWorkLingers: Bool = false) {
        self.holdWhileWorkLingers = holdWhileWorkLingers
    }

    public func withLock<R>(_ volumeID: String, _ body: () async throws -> R) async throws -> R {
        let acquired = held.withLock { $0.insert(volumeID).inserted }
        guard acquired else { throw CSIError.operationPending(volumeID: volumeID) }
        guard holdWhileWorkLingers else {
            defer { _ = held.withLock { $0.remove(volumeID) } }
            return try await body()
        }
        let work = LingeringWork()
        defer { release(volumeID, after: work) }
        return try await LingeringWork.$current.withValue(work) { try await body() }
    }

    /// Whether `volumeID`'s lock is held now (tests).
    func isHeld(_ volumeID: String) -> Bool { held.withLock { $0.contains(volumeID) } }

    private func release(_ volumeID: String, after work: LingeringWork) {
        guard !work.isIdle else {
            _ = held.withLock { $0.remove(volumeID) }
            return
        }
        Task {
            await work.idle()
            _ = self.held.withLock { $0.remove(volumeID) }
        }
    }
}
