import CSystemShims
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Whether a mapped device still does I/O: one direct 4 KiB read at offset 0 (and, for a loop
/// device over a FUSE file, a statfs of the FUSE mount, which its daemon answers), bounded in time,
/// with the answer kept for a few seconds (kubelet asks for every volume every minute; a
/// flood of stats calls costs one read per device per `cacheFor`).
///
/// This is what tells a dead backend from a healthy one: a killed rbd-fuse makes the statfs
/// fail at once (ENOTCONN; the read may still be served from the page cache), an OSD that is
/// down or paused makes both hang. A read still hanging is not
/// started again: the device is reported stuck for as long as it hangs.
public final class DeviceHealth: Sendable {
    public let readLimit: Duration
    public let cacheFor: Duration
    private let executor: BlockingExecutor
    private struct State {
        var answers: [String: (at: ContinuousClock.Instant, problem: String?)] = [:]
        var reading: [String: ContinuousClock.Instant] = [:]
    }
    private let state = Mutex(State())

    public init(readLimit: Duration = .seconds(2), cacheFor: Duration = .seconds(2), executor: BlockingExecutor = .shared) {
        self.readLimit = readLimit
        self.cacheFor = cacheFor
        self.executor = executor
    }

    /// Nil when `device` answered a read (and `fuseMount`, when given, a statfs); otherwise
    /// what is wrong, for VolumeCondition.
    public func problem(of device: String, fuseMount: String? = nil) async -> String? {
        // A read another call started: its answer is waited for while it is younger than the
        // read limit (a healthy device that takes a few milliseconds is not called stuck);
        // one older than that is the device hanging, answered at once without a new read.
        enum Next { case answer(String?), wait, read }
        while true {
            let now = ContinuousClock.now
            let next: Next = state.withLock { state in
                if let started = state.reading[device] {
                    guard now - started >= readLimit else { return .wait }
                    return .answer("I/O to \(device) has not completed for \(Self.seconds(now - started)) s; the Ceph cluster or the device's daemon does not answer")
                }
                if let answer = state.answers[device], now - answer.at < cacheFor { return .answer(answer.problem) }
                state.reading[device] = now
                return .read
            }
            if case .answer(let problem) = next { return problem }
            if case .read = next { break }
            guard (try? await Task.sleep(for: .milliseconds(5))) != nil else {
                return "the health check of \(device) was cancelled while another read of it was under way"
            }
        }
        let problem: String?
        do {
            try await executor.run("read from \(device)", limit: readLimit) {
                // Only when the read returns: a hung read keeps the device marked as reading.
                defer { self.state.withLock { _ = $0.reading.removeValue(forKey: device) } }
                if let fuseMount { _ = try FilesystemUsage.of(fuseMount) }
                try Self.readFirstBlock(device)
            }
            problem = nil
        } catch let error as BlockingTimeout {
            // The read keeps its entry in `reading` until it returns.
            return "I/O to \(device) did not complete within \(error.limit); the Ceph cluster or the device's daemon does not answer"
        } catch {
            problem = "reading from \(device) failed: \(error)"
        }
        state.withLock { $0.answers[device] = (ContinuousClock.now, problem) }
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
