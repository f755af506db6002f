import Foundation

/// Runs blocking test code (a child's exit, a poll on a raw socket) on a thread of its own.
///
/// Swift Testing runs tests in parallel on the cooperative pool, which has one thread per core:
/// two tests blocking there (two cores here) stall every other test, and a timing assertion
/// elsewhere then measures the stall instead of the code under test.
func offThePool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: body()) }
    }
}

extension Process {
    /// Waits for the child to exit without holding a cooperative thread.
    func exited() async {
        let process = self
        await offThePool { process.waitUntilExit() }
    }
}
