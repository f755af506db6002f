import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `/proc/self/mountinfo`, printed again by the kernel and parsed again only when the mount
/// table changed.
///
/// The kernel marks an open mountinfo file with `POLLPRI | POLLERR` after any mount or unmount
/// in the namespace since the file's last poll (proc(5)). A poll that does not wait therefore
/// tells whether the text read last is still the table, for one system call instead of the
/// kernel printing every mount (two per staged and published volume) and this process parsing
/// them on each stats call. A change between the poll and the read is in the text read; one
/// after it shows at the next poll.
final class MountInfoCache: Sendable {
    static let shared = MountInfoCache()

    private struct State {
        var fd: Int32 = -1
        var snapshot: MountTableSnapshot?
        /// Times the file was read (for the tests: a table that did not change is not read).
        var reads = 0
    }
    private let state = Mutex(State())
    private let path: String

    init(path: String = "/proc/self/mountinfo") {
        self.path = path
    }

    /// The current table.
    func snapshot() throws(HostError) -> MountTableSnapshot {
        try state.withLock { (state: inout State) throws(HostError) -> MountTableSnapshot in
            if state.fd < 0 {
                state.fd = try SystemCall.run("open \(path)") { open(path, O_RDONLY | O_CLOEXEC) }
            }
            var entry = pollfd(fd: state.fd, events: Int16(POLLPRI), revents: 0)
            let changed = try SystemCall.run("poll \(path)") { poll(&entry, 1, 0) }
            if changed == 0, let snapshot = state.snapshot { return snapshot }
            let fd = state.fd
            try SystemCall.run("seek \(path)") { lseek(fd, 0, SEEK_SET) }
            var data: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = try SystemCall.run("read \(path)") { chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
                if count == 0 { break }
                data.append(contentsOf: chunk[0..<count])
            }
            let snapshot = MountTableSnapshot(parsing: String(decoding: data, as: UTF8.self))
            state.snapshot = snapshot
            state.reads += 1
            return snapshot
        }
    }

    var reads: Int { state.withLock { $0.reads } }
}
