import Dispatch
import HostOperations
import Testing

@testable import CSIServices

/// A controller lock outlives its operation while a blocking call the operation started still
/// runs past its time limit (the crash sweep's leftover: a snapshot create that landed on a
/// source after the retry had cleaned up).
@Suite struct LingeringWorkLockTests {
    @Test func theLockIsHeldUntilTheCallThatTimedOutReturns() async throws {
        let executor = BlockingExecutor(threadCount: 2)
        let release = DispatchSemaphore(value: 0)
        let locks = VolumeLocks(holdWhileWorkLingers: true)
        await #expect(throws: BlockingTimeout.self) {
            try await locks.withLock("pvc-1") {
                try await executor.run("create a snapshot", limit: .milliseconds(50)) { release.wait() }
            }
        }
        // The call goes on: the retry is refused meanwhile.
        #expect(locks.isHeld("pvc-1"))
        await #expect(throws: CSIError.self) { try await locks.withLock("pvc-1") {} }
        release.signal()
        let end = ContinuousClock.now + .seconds(10)
        while locks.isHeld("pvc-1"), ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(5)) }
        #expect(!locks.isHeld("pvc-1"))
        try await locks.withLock("pvc-1") {}
    }

    @Test func anInnerLocksWorkKeepsTheOuterLockToo() async throws {
        let executor = BlockingExecutor(threadCount: 2)
        let release = DispatchSemaphore(value: 0)
        let names = VolumeLocks(holdWhileWorkLingers: true)
        let ids = VolumeLocks(holdWhileWorkLingers: true)
        await #expect(throws: BlockingTimeout.self) {
            try await names.withLock("pvc-2") {
                try await ids.withLock("source") {
                    try await executor.run("clone", limit: .milliseconds(50)) { release.wait() }
                }
            }
        }
        #expect(names.isHeld("pvc-2"))
        #expect(ids.isHeld("source"))
        release.signal()
        let end = ContinuousClock.now + .seconds(10)
        while names.isHeld("pvc-2") || ids.isHeld("source"), ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(5)) }
        #expect(!names.isHeld("pvc-2"))
        #expect(!ids.isHeld("source"))
    }

    /// The node's locks do not wait: an unstage must not be kept out by a hung statvfs.
    @Test func nodeLocksDoNotWait() async throws {
        let executor = BlockingExecutor(threadCount: 2)
        let release = DispatchSemaphore(value: 0)
        defer { release.signal() }
        let locks = VolumeLocks()
        await #expect(throws: BlockingTimeout.self) {
            try await locks.withLock("vol") { try await executor.run("statvfs", limit: .milliseconds(50)) { release.wait() } }
        }
        #expect(!locks.isHeld("vol"))
    }
}
