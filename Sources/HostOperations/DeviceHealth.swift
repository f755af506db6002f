import CSystemShims
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Whether a mapped device still does I/O: one direct 4 KiB read at offset 0 (and, for a loop
/// device over a FUSE file, a statfs of the FUSE mount, which its daemon answers from the
/// cluster), bounded in time, with the answer kept for a few seconds (kubelet asks for every
/// volume every minute; a flood of stats calls costs one read per device per `cacheFor`).
///
/// This is what tells a dead backend from a healthy one: a killed rbd-fuse makes the statfs
/// fail at once (ENOTCONN; the read may still be served from the page cache), an OSD that is
/// down or paused makes both hang. A read still hanging is not started again: the device is
/// reported stuck for as long as it hangs.
///
/// No answer is ever older than `cacheFor`. A caller that finds one older than `refreshAfter`
/// gets it at once and a new check starts in the background, so a volume asked often (a
/// monitoring loop) never waits for its device; callers that overlap on a check under way
/// await that check, which ends within `readLimit` even when its read hangs.
public final class DeviceHealth: Sendable {
    public let readLimit: Duration
    public let cacheFor: Duration
    public let refreshAfter: Duration
    private let executor: BlockingExecutor
    private struct State {
        var answers: [String: (at: ContinuousClock.Instant, problem: String?)] = [:]
        /// Reads under way and when they started; an entry leaves only when its read returns.
        var reading: [String: ContinuousClock.Instant] = [:]
        /// The check of each device that callers can await.
        var checks: [String: Task<String?, Never>] = [:]
        /// Reads started (for the tests).
        var reads = 0
    }
    private let state = Mutex(State())

    public init(
        readLimit: Duration = .seconds(2), cacheFor: Duration = .seconds(2), refreshAfter: Duration = .seconds(1),
        executor: BlockingExecutor = .shared
    ) {
        self.readLimit = readLimit
        self.cacheFor = cacheFor
        self.refreshAfter = min(refreshAfter, cacheFor)
        self.executor = executor
    }

    /// Nil when `device` answered a read (and `fuseMount`, when given, a statfs); otherwise
    /// what is wrong, for VolumeCondition.
    public func problem(of device: String, fuseMount: String? = nil) async -> String? {
        enum Next { case answer(String?), wait(Task<String?, Never>) }
        let now = ContinuousClock.now
        let next: Next = state.withLock { state in
            if let answer = state.answers[device], now - answer.at < cacheFor {
                if now - answer.at >= refreshAfter, state.reading[device] == nil, state.checks[device] == nil {
                    startCheck(of: device, fuseMount: fuseMount, at: now, in: &state)
                }
                return .answer(answer.problem)
            }
            if let check = state.checks[device] { return .wait(check) }
            // A read whose check already timed out: the device hangs; no new read is started.
            if let started = state.reading[device] {
                return .answer("I/O to \(device) has not completed for \(Self.seconds(now - started)) s; the Ceph cluster or the device's daemon does not answer")
            }
            return .wait(startCheck(of: device, fuseMount: fuseMount, at: now, in: &state))
        }
        switch next {
        case .answer(let problem): return problem
        case .wait(let check): return await check.value
        }
    }

    /// Reads started so far.
    var reads: Int { state.withLock { $0.reads } }

    /// Starts and records a check. Called with the state locked, so the check cannot finish
    /// (and remove itself) before it is recorded.
    @discardableResult
    private func startCheck(of device: String, fuseMount: String?, at start: ContinuousClock.Instant, in state: inout State) -> Task<String?, Never> {
        state.reading[device] = start
        state.reads += 1
        let check = Task { await self.check(device, fuseMount: fuseMount) }
        state.checks[device] = check
        return check
    }

    private func check(_ device: String, fuseMount: String?) async -> String? {
        let problem: String?
        var keep = true
        do {
            try await executor.run("read from \(device)", limit: readLimit) {
                // Only when the read returns: a hung read keeps the device marked as reading.
                defer { self.state.withLock { _ = $0.reading.removeValue(forKey: device) } }
                if let fuseMount { _ = try FilesystemUsage.of(fuseMount) }
                try Self.readFirstBlock(device)
            }
            problem = nil
        } catch let error as BlockingTimeout {
            // Not kept: the read keeps its entry in `reading` until it returns, and that is
            // the answer from now on.
            problem = "I/O to \(device) did not complete within \(error.limit); the Ceph cluster or the device's daemon does not answer"
            keep = false
        } catch {
            problem = "reading from \(device) failed: \(error)"
        }
        state.withLock { state in
            if keep { state.answers[device] = (ContinuousClock.now, problem) }
            state.checks[device] = nil
        }
        return problem
    }

    private static func readFirstBlock(_ device: String) throws {
        let fd = try SystemCall.run("open \(device)") { rbdcsi_open_direct_read(device) }
        defer { close(fd) }
        let size = 4096
        guard let buffer = aligned_alloc(size, size) else { throw HostError.system("allocate a read buffer", ENOMEM) }
        defer { free(buffer) }
        try SystemCall.run("read \(device)") { pread(fd, buffer, size, 0) }
    }

    private static func seconds(_ duration: Duration) -> Int64 { duration.components.seconds }
}
