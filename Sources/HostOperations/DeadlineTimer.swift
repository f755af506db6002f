import Dispatch
import Synchronization

/// One thread that runs actions at their deadlines, unless they are disarmed first.
///
/// It exists for `BlockingExecutor`: every blocking call has a time limit, and nearly every call
/// ends long before it. A dispatch timer per call (`asyncAfter`) cannot be taken back, so each
/// one still woke a thread at its limit: at 1,500 calls a second, 1,500 needless wake-ups a
/// second on a 2-core node. Here a disarmed entry is simply removed, and the thread wakes only
/// for the earliest deadline it was told of: when that entry is gone by then, it goes back to
/// sleep until the next one, so a steady stream of short calls costs about one wake-up per limit.
final class DeadlineTimer: Sendable {
    /// An armed action, to pass to `disarm`.
    struct Token: Sendable, Hashable {
        fileprivate let id: UInt64
    }

    private struct Entry {
        var deadline: UInt64
        var action: @Sendable () -> Void
    }

    private struct State {
        var nextID: UInt64 = 0
        var entries: [UInt64: Entry] = [:]
        /// The deadline the thread sleeps until; `nil` while it sleeps with nothing armed.
        var sleepingUntil: UInt64?
    }

    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    /// Starts the timer's thread, named `name`; it lives as long as the process.
    init(name: String) {
        NamedThread.start(name: name) { [self] in runForever() }
    }

    /// Runs `action` on the timer's thread once `delay` has passed, unless `disarm` comes first.
    /// The action should be short: later deadlines wait for it.
    func arm(after delay: Duration, _ action: @escaping @Sendable () -> Void) -> Token {
        let deadline = DispatchTime.now().uptimeNanoseconds &+ Self.nanoseconds(delay)
        let (token, mustWake) = state.withLock { state -> (Token, Bool) in
            let id = state.nextID
            state.nextID &+= 1
            state.entries[id] = Entry(deadline: deadline, action: action)
            // Only an entry due before the thread's next wake-up needs to wake it now.
            guard state.sleepingUntil.map({ deadline < $0 }) ?? true else { return (Token(id: id), false) }
            state.sleepingUntil = deadline
            return (Token(id: id), true)
        }
        if mustWake { wake.signal() }
        return token
    }

    /// Takes back an armed action; one that has already run (or is running) is left alone.
    func disarm(_ token: Token) {
        _ = state.withLock { $0.entries.removeValue(forKey: token.id) }
    }

    /// The number of actions armed and not yet run or disarmed (for tests).
    var armedCount: Int { state.withLock { $0.entries.count } }

    private func runForever() -> Never {
        while true {
            let (due, sleepUntil) = state.withLock { state -> ([@Sendable () -> Void], UInt64?) in
                let now = DispatchTime.now().uptimeNanoseconds
                var due: [@Sendable () -> Void] = []
                var earliest: UInt64?
                for (id, entry) in state.entries {
                    if entry.deadline <= now {
                        due.append(entry.action)
                        state.entries[id] = nil
                    } else if earliest.map({ entry.deadline < $0 }) ?? true {
                        earliest = entry.deadline
                    }
                }
                state.sleepingUntil = earliest
                return (due, earliest)
            }
            for action in due { action() }
            if let sleepUntil {
                _ = wake.wait(timeout: DispatchTime(uptimeNanoseconds: sleepUntil))
            } else {
                wake.wait()
            }
        }
    }

    private static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? UInt64.max / 2 : whole &+ UInt64(attoseconds / 1_000_000_000)
    }
}
