import Synchronization

/// Per-volume try-locks: one operation per volume id at a time; a second one is refused with
/// ABORTED at once (kubelet retries). Different volumes never wait on each other.
public final class VolumeLocks: Sendable {
    private let held = Mutex<Set<String>>([])

    public init() {}

    public func withLock<R>(_ volumeID: String, _ body: () async throws -> R) async throws -> R {
        let acquired = held.withLock { $0.insert(volumeID).inserted }
        guard acquired else { throw CSIError.operationPending(volumeID: volumeID) }
        defer { _ = held.withLock { $0.remove(volumeID) } }
        return try await body()
    }
}
