import CSystemShims
import HostOperations

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on `SOCKET.lock`, held for as long as the plugin serves `SOCKET`.
///
/// A second plugin started on the same socket path fails to take it and refuses to start,
/// instead of unlinking the first one's socket and silently stealing kubelet's connection.
/// The lock is an `flock`, so it goes away with the process, even after `SIGKILL`.
public final class SocketLock: Sendable {
    public let path: String
    private let fd: Int32

    /// Takes the lock for `socketPath`, creating its directory if needed.
    public init(socketPath: String) throws(PluginRuntimeError) {
        path = socketPath + ".lock"
        let directory = String(socketPath[..<(socketPath.lastIndex(of: "/") ?? socketPath.startIndex)])
        // A directory that cannot be made shows up as the open error below.
        if !directory.isEmpty { try? HostPaths.makeDirectories(directory) }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw .cannotPrepareSocket(path: socketPath, reason: "open \(path): \(String(cString: strerror(errno)))")
        }
        guard rbdcsi_try_lock(fd) == 0 else {
            let reason = errno
            let holder = Self.readHolder(fd)
            close(fd)
            if reason == EWOULDBLOCK {
                throw .socketInUse(path: socketPath, holder: "lock \(path) is held" + (holder.isEmpty ? "" : " by pid \(holder)"))
            }
            throw .cannotPrepareSocket(path: socketPath, reason: "lock \(path): \(String(cString: strerror(reason)))")
        }
        self.fd = fd
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pid, pid.utf8.count, 0)
    }

    deinit {
        close(fd)
    }

    private static func readHolder(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingWhitespace() : ""
    }
}
