#if canImport(Glibc)
import Glibc
#endif

/// Small file-system operations on the node (create, remove, check), as plain system calls.
///
/// None of them follows a symbolic link at the path it creates or removes: a link planted at a
/// staging or target path must never redirect a root-owned write to somewhere else on the host.
public enum HostPaths {
    /// What is at a path, as `lstat` sees it (a symbolic link is not followed).
    public enum Kind: Sendable, Hashable {
        case missing
        case directory
        case regularFile(size: Int64)
        case symbolicLink
        case blockDevice
        case other
    }

    public static func kind(of path: String) -> Kind {
        var info = stat()
        guard SystemCall.errorNumber({ lstat(path, &info) }) == 0 else { return .missing }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFREG: return .regularFile(size: Int64(info.st_size))
        case S_IFLNK: return .symbolicLink
        case S_IFBLK: return .blockDevice
        default: return .other
        }
    }

    public static func exists(_ path: String) -> Bool {
        kind(of: path) != .missing
    }

    public static func isDirectory(_ path: String) -> Bool {
        kind(of: path) == .directory
    }

    /// Whether `path` is (or is bind-mounted over by) a block device.
    public static func isBlockDevice(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFBLK
    }

    /// Creates a directory (not its parents). An existing directory is fine; anything else
    /// there (a file, a symbolic link, even one to a directory) is an error.
    public static func makeDirectory(_ path: String, mode: mode_t = 0o750) throws {
        let code = SystemCall.errorNumber { mkdir(path, mode) }
        guard code == 0 || code == EEXIST else { throw HostError.system("mkdir \(path)", code) }
        if code == EEXIST && !isDirectory(path) { throw HostError.system("mkdir \(path): exists and is not a directory", EEXIST) }
    }

    /// Creates a directory and its missing parents (`mkdir -p`).
    public static func makeDirectories(_ path: String, mode: mode_t = 0o750) throws {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            try makeDirectory(current, mode: mode)
        }
    }

    /// Creates an empty file (a bind-mount target for a block device). An existing regular file
    /// is fine; a symbolic link, FIFO or device there is an error and is never opened.
    public static func makeFile(_ path: String, mode: mode_t = 0o640) throws {
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode)
        if fd >= 0 {
            close(fd)
            return
        }
        let code = errno
        guard code == EEXIST, case .regularFile = kind(of: path) else { throw HostError.system("create \(path)", code) }
    }

    /// Removes a file or an empty directory; a missing one is fine. Only for the plugin's own
    /// files (stash, FUSE directories); paths the CO hands in go through `removeIfEmpty`.
    public static func remove(_ path: String) throws {
        var code = SystemCall.errorNumber { unlink(path) }
        if code == 0 || code == ENOENT { return }
        if code == EISDIR || code == EPERM {
            code = SystemCall.errorNumber { rmdir(path) }
            if code == 0 || code == ENOENT { return }
        }
        throw HostError.system("remove \(path)", code)
    }

    /// What `removeIfEmpty` found and did.
    public enum Removal: Sendable, Hashable {
        case removed
        case missing
        /// Left in place: it holds data (or is not a file or directory); the reason says what.
        case keptHoldingData(String)
    }

    /// Removes an empty directory or an empty regular file, and nothing else: a target path
    /// that holds data and is not a mount of ours is never deleted.
    public static func removeIfEmpty(_ path: String) throws -> Removal {
        switch kind(of: path) {
        case .missing:
            return .missing
        case .directory:
            let code = SystemCall.errorNumber { rmdir(path) }
            if code == 0 { return .removed }
            if code == ENOENT { return .missing }
            if code == ENOTEMPTY || code == EEXIST { return .keptHoldingData("\(path) is a directory that is not empty") }
            throw HostError.system("rmdir \(path)", code)
        case .regularFile(let size) where size == 0:
            let code = SystemCall.errorNumber { unlink(path) }
            guard code == 0 || code == ENOENT else { throw HostError.system("unlink \(path)", code) }
            return .removed
        case .regularFile(let size):
            return .keptHoldingData("\(path) is a file holding \(size) bytes")
        case .symbolicLink:
            return .keptHoldingData("\(path) is a symbolic link")
        case .blockDevice, .other:
            return .keptHoldingData("\(path) is a device node or special file")
        }
    }

    /// Whether a directory has no entries, or a regular file no bytes (a fresh publish target).
    public static func isEmpty(_ path: String) -> Bool {
        switch kind(of: path) {
        case .regularFile(let size): return size == 0
        case .directory:
            return (try? DirectoryEntries.names(in: path, limit: 1))?.isEmpty == true
        default: return false
        }
    }

    /// Sets the permission bits of `path` to `mode`, unless they already are: a chmod that
    /// changes nothing still updates the inode's ctime, and on a freshly staged filesystem
    /// that dirty root inode costs a journal commit through the mapper at unmount (each
    /// re-stage of a volume finds its root already 0777).
    public static func chmod(_ path: String, _ mode: mode_t) throws {
        var info = stat()
        try SystemCall.run("stat \(path)") { () -> Int32 in stat(path, &info) }
        guard info.st_mode & 0o7777 != mode else { return }
        try SystemCall.run("chmod \(path)") { Glibc.chmod(path, mode) }
    }

    /// The size in bytes of a block device or regular file (BLKGETSIZE64 via lseek).
    public static func size(of path: String) throws -> Int64 {
        let fd = try SystemCall.run("open \(path)") { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        return Int64(try SystemCall.run("seek \(path)") { lseek(fd, 0, SEEK_END) })
    }
}
