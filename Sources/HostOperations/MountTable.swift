#if canImport(Glibc)
import Glibc
#endif

/// Reads the current mounts. The seam for faking the host in unit tests.
public protocol MountTableReading: Sendable {
    func entries() throws -> [MountEntry]
    /// The topmost mount at exactly `path`, if any. Bind mounts on the same filesystem count,
    /// which a `stat` device comparison would miss. No child process is run.
    func mount(at path: String) throws -> MountEntry?
}

extension MountTableReading {
    public func mount(at path: String) throws -> MountEntry? {
        let normalized = PathName.normalize(path)
        return try entries().last { $0.mountPoint == normalized }
    }

    public func isMountPoint(_ path: String) throws -> Bool {
        try mount(at: path) != nil
    }
}

/// The mount table of this process's mount namespace, from `/proc/self/mountinfo` (printed
/// and parsed again only after the kernel signals a change: `MountInfoCache`).
public struct SystemMountTable: MountTableReading {
    public init() {}

    public func entries() throws -> [MountEntry] {
        try MountInfoCache.shared.snapshot().entries
    }

    public func mount(at path: String) throws -> MountEntry? {
        try MountInfoCache.shared.snapshot().entry(at: PathName.normalize(path))
    }
}

/// Path spelling without `//`, `/./` or a trailing `/` (symlinks are not resolved).
public enum PathName {
    public static func normalize(_ path: String) -> String {
        let parts = path.split(separator: "/").filter { $0 != "." }
        return "/" + parts.joined(separator: "/")
    }
}

/// Whole small files (proc files, stashes) read and written with plain system calls.
public enum FileText {
    /// Reads a whole file. `followLinks: false` refuses a symbolic link at `path` (ELOOP).
    public static func read(_ path: String, followLinks: Bool = true) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (followLinks ? 0 : O_NOFOLLOW))
        guard fd >= 0 else { throw HostError.system("open \(path)", errno) }
        defer { close(fd) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw HostError.system("read \(path)", errno) }
            if n == 0 { break }
            data.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Writes `text` to `path` atomically (temporary file, fsync, rename) with `mode`. The
    /// temporary file is created afresh (a link planted under its name is removed, never
    /// followed), and `rename` replaces whatever is at `path` without following it.
    public static func write(_ text: String, to path: String, mode: mode_t) throws {
        let temporary = path + ".tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw HostError.system("create \(temporary)", errno) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == bytes.count, synced == 0 else {
            unlink(temporary)
            throw HostError.system("write \(temporary)", errno)
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw HostError.system("rename \(temporary)", errno)
        }
    }
}
