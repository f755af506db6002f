import CSystemShims
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Whether a mapped device still does I/O: one direct 4 KiB read at offset 0 (and, for a loop
/// device over a FUSE file, a statfs of the FUSE mount, which its daemon answers from the
/// cluster), bounded in time, with the answer kept for a few seconds. Given the filesystem's
/// mount point, the same check reads its usage (statvfs) too, so that a stats call answered
/// from a kept answer makes no trip to the blocking executor (two thread wake-ups).
///
/// kubelet asks for every volume once a minute, and so always gets a fresh check. A flood of
/// stats calls (a monitoring loop) costs one check per device per `refreshAfter`: 5 s. With
/// one a second, 50 volumes asked in a loop meant 50 FUSE statfs calls and 50 reads through
/// rbd-fuse and the OSD every second, all at once, and those bursts were the tail of the
/// stats calls themselves (issue 15). ceph-csi's own volume health checker looks once a minute.
///
/// This is what tells a dead backend from a healthy one: a killed rbd-fuse makes the statfs
/// fail at once (ENOTCONN; the read may still be served from the page cache), an OSD that is
/// down or paused makes both hang. A read still hanging is not started again: the device is
/// reported stuck for as long as it hangs.
///
/// No answer is ever older than `cacheFor`. A caller that finds one older than `refreshAfter`
/// gets it at once and a new check starts in the background, so a volume asked often (a
/// monitoring loop) never waits for its device; callers that overlap on a check under way
/// await that check, which ends within `readLimit` even when its read hangs. A check that
/// times out drops the answer it would have replaced: from then on every caller hears that
/// the device hangs, so a frequent caller learns of a hang within `refreshAfter + readLimit`.
public final class DeviceHealth: Sendable {
    public let readLimit: Duration
    public let cacheFor: Duration
    public let refreshAfter: Duration
    private let executor: BlockingExecutor
    private struct State {
        var answers: [String: (at: ContinuousClock.Instant, report: Report)] = [:]
        /// Reads under way and when they started; an entry leaves only when its read returns.
        var reading: [String: ContinuousClock.Instant] = [:]
        /// The check of each device that callers can await.
        var checks: [String: Task<Report, Never>] = [:]
        /// Reads started (for the tests).
        var reads = 0
    }
    private let state = Mutex(State())

    public init(
        readLimit: Duration = .seconds(2), cacheFor: Duration = .seconds(10), refreshAfter: Duration = .seconds(5),
        executor: BlockingExecutor = .shared
    ) {
        self.readLimit = readLimit
        self.cacheFor = cacheFor
        self.refreshAfter = min(refreshAfter, cacheFor)
        self.executor = executor
    }

    /// What one check found.
    public struct Report: Sendable {
        /// Nil when the device (and the FUSE mount, the filesystem) answered; otherwise what
        /// is wrong, for VolumeCondition.
        public var problem: String?
        /// The filesystem's usage, when the check was given its mount point and it answered.
        public var usage: FilesystemUsage?
    }

    /// Nil when `device` answered a read (and `fuseMount`, when given, a statfs); otherwise
    /// what is wrong, for VolumeCondition.
    public func problem(of device: String, fuseMount: String? = nil) async -> String? {
        await report(of: device, fuseMount: fuseMount).problem
    }

    /// The health of `device` as `problem(of:fuseMount:)` finds it and, with `mountPoint`,
    /// the usage of the filesystem mounted there (read by the same check, and kept with it).
    public func report(of device: String, fuseMount: String? = nil, mountPoint: String? = nil) async -> Report {
        enum Next { case answer(Report), wait(Task<Report, Never>) }
        let now = ContinuousClock.now
        let next: Next = state.withLock { state in
            // A healthy answer without the usage asked for is no answer to this caller.
            if let answer = state.answers[device], now - answer.at < cacheFor,
               mountPoint == nil || answer.report.usage != nil || answer.report.problem != nil {
                if now - answer.at >= refreshAfter, state.reading[device] == nil, state.checks[device] == nil {
                    startCheck(of: device, fuseMount: fuseMount, mountPoint: mountPoint, at: now, in: &state)
                }
                return .answer(answer.report)
            }
            if let check = state.checks[device] { return .wait(check) }
            // A read whose check already timed out: the device hangs; no new read is started.
            if let started = state.reading[device] {
                return .answer(Report(problem: "I/O to \(device) has not completed for \(Self.seconds(now - started)) s; the Ceph cluster or the device's daemon does not answer"))
            }
            return .wait(startCheck(of: device, fuseMount: fuseMount, mountPoint: mountPoint, at: now, in: &state))
        }
        switch next {
        case .answer(let report): return report
        case .wait(let check):
            let report = await check.value
            // Overlapped another caller's check, which was not asked for the usage.
            if report.problem == nil, report.usage == nil, mountPoint != nil {
                return await self.report(of: device, fuseMount: fuseMount, mountPoint: mountPoint)
            }
            return report
        }
    }

    /// Drops the answer kept for `device`. Called when a device is mapped or unmapped: the
    /// kernel reuses device names (a new volume's loop device is often an old one's), and an
    /// answer belongs to the mapping it was read from.
    public func forget(_ device: String) {
        state.withLock { _ = $0.answers.removeValue(forKey: device) }
    }

    /// Reads started so far.
    var reads: Int { state.withLock { $0.reads } }

    /// Starts and records a check. Called with the state locked, so the check cannot finish
    /// (and remove itself) before it is recorded.
    @discardableResult
    private func startCheck(
        of device: String, fuseMount: String?, mountPoint: String?, at start: ContinuousClock.Instant, in state: inout State
    ) -> Task<Report, Never> {
        state.reading[device] = start
        state.reads += 1
        let check = Task { await self.check(device, fuseMount: fuseMount, mountPoint: mountPoint) }
        state.checks[device] = check
        return check
    }

    private func check(_ device: String, fuseMount: String?, mountPoint: String?) async -> Report {
        let problem: String?
        var usage: FilesystemUsage?
        var keep = true
        do {
            let mounted = try await executor.run("read from \(device)", limit: readLimit) { () throws -> Result<FilesystemUsage, HostError>? in
                // Only when the read returns: a hung read keeps the device marked as reading.
                defer { self.state.withLock { _ = $0.reading.removeValue(forKey: device) } }
                if let fuseMount { _ = try FilesystemUsage.of(fuseMount) }
                try Self.readFirstBlock(device)
                return mountPoint.map { path in Result { () throws(HostError) in try FilesystemUsage.of(path) } }
            }
            switch mounted {
            case .success(let read)?: (usage, problem) = (read, nil)
            case .failure(let error)?: problem = "mount \(mountPoint ?? "") is corrupted: \(error)"
            case nil: problem = nil
            }
        } catch let error as BlockingTimeout {
            // Not kept: the read keeps its entry in `reading` until it returns, and that is
            // the answer from now on.
            problem = "I/O to \(device) did not complete within \(error.limit); the Ceph cluster or the device's daemon does not answer"
            keep = false
        } catch {
            problem = "reading from \(device) failed: \(error)"
        }
        let report = Report(problem: problem, usage: usage)
        state.withLock { state in
            // A timed-out check leaves no answer: the read still under way is the answer.
            state.answers[device] = keep ? (ContinuousClock.now, report) : nil
            state.checks[device] = nil
        }
        return report
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
