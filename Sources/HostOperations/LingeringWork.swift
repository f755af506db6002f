import Synchronization

/// Blocking work started for a request that may outlive the request's wait for it: a librbd
/// call past its time limit goes on in its executor thread (a snapshot create waiting for a
/// dead client's watch) and can land after the request has answered, after its undo, after
/// its retry has cleaned up. A request that tracks its work this way (`VolumeLocks` for the
/// controller) keeps its lock until every call it started has returned, so that its retry is
/// refused (ABORTED, retried) until then and finds whatever landed.
///
/// `BlockingExecutor` counts each call in the `current` tracker of the task that queues it,
/// and in that tracker's parents (nested locks: a name, then a source volume id), from the
/// moment it is queued until it has returned or was dropped unstarted.
public final class LingeringWork: Sendable {
    /// The tracker of the request this task works for, if it tracks its work.
    @TaskLocal public static var current: LingeringWork?

    private struct State {
        var running = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let parent: LingeringWork?
    private let state = Mutex(State())

    /// A tracker whose work also counts in `parent` (the enclosing request's, by default).
    public init(parent: LingeringWork? = LingeringWork.current) {
        self.parent = parent
    }

    /// Whether no call is running or queued.
    public var isIdle: Bool { state.withLock { $0.running == 0 } }

    func enter() {
        state.withLock { $0.running += 1 }
        parent?.enter()
    }

    func leave() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.running -= 1
            guard state.running == 0 else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
        parent?.leave()
    }

    /// Returns once no call is running or queued (at once when none is).
    public func idle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                guard state.running > 0 else { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
}
