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

    /// Whether a process accepts connections on the unix socket at `socketPath` now.
    public static func isAnswering(socketPath: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(socketPath.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return connected == 0
    }

    private static func readHolder(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingWhitespace() : ""
    }
}
