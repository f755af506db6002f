import Synchronization

/// A value one service of the plugin's `ServiceGroup` produces once at start and later
/// services wait for: the assembled CSI services, then the same once the node's volumes are
/// healed. `ServiceGroup` starts its services together and stops them in reverse order; the
/// gates give the start the same dependency order.
public final class StartupGate<Value: Sendable>: Sendable {
    /// The producer gave up: its error is the group's, the waiters just end.
    public struct Abandoned: Error {}

    private enum State {
        case waiting([Int: CheckedContinuation<Value, any Error>], nextID: Int)
        case open(Value)
        case abandoned
    }

    private let state = Mutex<State>(.waiting([:], nextID: 0))

    public init() {}

    /// Hands `value` to every waiter, present and future. Only the first open or abandon counts.
    public func open(_ value: Value) {
        for continuation in settle(.open(value)) { continuation.resume(returning: value) }
    }

    /// The producer failed: every waiter gets `Abandoned`.
    public func abandon() {
        for continuation in settle(.abandoned) { continuation.resume(throwing: Abandoned()) }
    }

    private func settle(_ final: State) -> [CheckedContinuation<Value, any Error>] {
        state.withLock { state in
            guard case .waiting(let waiters, _) = state else { return [] }
            state = final
            return Array(waiters.values)
        }
    }

    /// The value once it is there. Throws `Abandoned` when the producer failed, and
    /// `CancellationError` when the waiting task is cancelled first.
    public func value() async throws -> Value {
        let id = state.withLock { state -> Int? in
            guard case .waiting(let waiters, let nextID) = state else { return nil }
            state = .waiting(waiters, nextID: nextID + 1)
            return nextID
        }
        guard let id else { return try settledValue() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
                let early = state.withLock { state -> Result<Value, any Error>? in
                    switch state {
                    case .waiting(var waiters, let nextID):
                        if Task.isCancelled { return .failure(CancellationError()) }
                        waiters[id] = continuation
                        state = .waiting(waiters, nextID: nextID)
                        return nil
                    case .open(let value): return .success(value)
                    case .abandoned: return .failure(Abandoned())
                    }
                }
                if let early { continuation.resume(with: early) }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Value, any Error>? in
                guard case .waiting(var waiters, let nextID) = state, let continuation = waiters.removeValue(forKey: id) else { return nil }
                state = .waiting(waiters, nextID: nextID)
                return continuation
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    private func settledValue() throws -> Value {
        try state.withLock { state throws -> Value in
            if case .open(let value) = state { return value }
            throw Abandoned()
        }
    }
}
