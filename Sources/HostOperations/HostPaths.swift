#if canImport(Glibc)
import Glibc
#endif

/// Small file-system operations on the node (create, remove, check), as plain system calls.
public enum HostPaths {
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Whether `path` is (or is bind-mounted over by) a block device.
    public static func isBlockDevice(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFBLK
    }

    /// Creates a directory (not its parents); an existing one is fine.
    public static func makeDirectory(_ path: String, mode: mode_t = 0o750) throws {
        if mkdir(path, mode) != 0 && errno != EEXIST { throw HostError.system("mkdir \(path)", errno) }
    }

    /// Creates a directory and its missing parents (`mkdir -p`).
    public static func makeDirectories(_ path: String, mode: mode_t = 0o750) throws {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            try makeDirectory(current, mode: mode)
        }
    }

    /// Creates an empty file (a bind-mount target for a block device); an existing one is fine.
    public static func makeFile(_ path: String, mode: mode_t = 0o750) throws {
        let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, mode)
        guard fd >= 0 else { throw HostError.system("create \(path)", errno) }
        close(fd)
    }

    /// Removes a file or an empty directory; a missing one is fine.
    public static func remove(_ path: String) throws {
        if unlink(path) == 0 || errno == ENOENT { return }
        if errno == EISDIR || errno == EPERM {
            if rmdir(path) == 0 || errno == ENOENT { return }
        }
        throw HostError.system("remove \(path)", errno)
    }

    public static func chmod(_ path: String, _ mode: mode_t) throws {
        if Glibc.chmod(path, mode) != 0 { throw HostError.system("chmod \(path)", errno) }
    }

    /// The size in bytes of a block device or regular file (BLKGETSIZE64 via lseek).
    public static func size(of path: String) throws -> Int64 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HostError.system("open \(path)", errno) }
        defer { close(fd) }
        let end = lseek(fd, 0, SEEK_END)
        guard end >= 0 else { throw HostError.system("seek \(path)", errno) }
        return Int64(end)
    }
}
