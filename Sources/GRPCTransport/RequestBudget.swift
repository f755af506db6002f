import Synchronization

/// The request bytes all connections of one server hold for calls that have not started,
/// against `ConnectionLimits.maxBufferedBytes`. Shared by the connections' event loops.
public final class RequestBudget: Sendable {
    public let limit: Int
    private let used = Atomic<Int>(0)

    public init(limit: Int) {
        self.limit = limit
    }

    /// Bytes counted now.
    public var inUse: Int { used.load(ordering: .relaxed) }

    /// Counts `count` bytes; false, with nothing counted, when that would pass the limit.
    func reserve(_ count: Int) -> Bool {
        var current = used.load(ordering: .relaxed)
        while true {
            guard current + count <= limit else { return false }
            let (exchanged, original) = used.compareExchange(expected: current, desired: current + count, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    func release(_ count: Int) {
        used.subtract(count, ordering: .relaxed)
    }
}
