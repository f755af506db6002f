import Dispatch
import Synchronization
import Testing

@testable import HostOperations

@Suite struct DeadlineTimerTests {
    @Test func anArmedActionRunsAtItsDeadline() async throws {
        let timer = DeadlineTimer(name: "test-deadline")
        let fired = DispatchSemaphore(value: 0)
        let start = ContinuousClock.now
        _ = timer.arm(after: .milliseconds(100)) { fired.signal() }
        // The 30 s only stops a hung test; the action must come after its deadline, not before.
        #expect(fired.wait(timeout: .now() + 30) == .success)
        #expect(ContinuousClock.now - start >= .milliseconds(100))
        #expect(timer.armedCount == 0)
    }

    @Test func aDisarmedActionNeverRuns() async throws {
        let timer = DeadlineTimer(name: "test-deadline")
        let runs = Atomic(0)
        let token = timer.arm(after: .milliseconds(50)) { runs.add(1, ordering: .relaxed) }
        timer.disarm(token)
        #expect(timer.armedCount == 0)
        // A later action proves the thread went past the disarmed deadline.
        let fired = DispatchSemaphore(value: 0)
        _ = timer.arm(after: .milliseconds(150)) { fired.signal() }
        #expect(fired.wait(timeout: .now() + 30) == .success)
        #expect(runs.load(ordering: .relaxed) == 0)
    }

    @Test func anEarlierDeadlineWakesTheSleepingThread() async throws {
        let timer = DeadlineTimer(name: "test-deadline")
        let late = timer.arm(after: .seconds(60)) {}
        try await Task.sleep(for: .milliseconds(20))
        // The thread now sleeps until the 60 s deadline; a 50 ms one must not wait for it.
        let fired = DispatchSemaphore(value: 0)
        let start = ContinuousClock.now
        _ = timer.arm(after: .milliseconds(50)) { fired.signal() }
        #expect(fired.wait(timeout: .now() + 30) == .success)
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(timer.armedCount == 1)
        timer.disarm(late)
    }

    @Test func actionsRunInDeadlineOrderWhateverTheOrderTheyWereArmedIn() async throws {
        let timer = DeadlineTimer(name: "test-deadline")
        let order = Mutex<[Int]>([])
        let done = DispatchSemaphore(value: 0)
        for (index, delay) in [300, 100, 200].enumerated() {
            _ = timer.arm(after: .milliseconds(delay)) {
                order.withLock { $0.append(index) }
                done.signal()
            }
        }
        for _ in 0..<3 { #expect(done.wait(timeout: .now() + 30) == .success) }
        #expect(order.withLock { $0 } == [1, 2, 0])
    }
}
