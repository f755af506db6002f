#if canImport(Glibc)
import Glibc
#endif

/// Bytes and inodes of a mounted filesystem, from `statvfs(3)`: no child process.
public struct FilesystemUsage: Sendable, Hashable {
    public var totalBytes: Int64
    public var availableBytes: Int64
    public var usedBytes: Int64
    public var totalInodes: Int64
    public var freeInodes: Int64
    public var usedInodes: Int64

    public init(totalBytes: Int64, availableBytes: Int64, usedBytes: Int64, totalInodes: Int64, freeInodes: Int64, usedInodes: Int64) {
        self.totalBytes = totalBytes
        self.availableBytes = availableBytes
        self.usedBytes = usedBytes
        self.totalInodes = totalInodes
        self.freeInodes = freeInodes
        self.usedInodes = usedInodes
    }

    /// Reads the usage of the filesystem holding `path`; errors carry the errno (ENOTCONN,
    /// ESTALE, EIO for a broken mount).
    public static func of(_ path: String) throws(HostError) -> FilesystemUsage {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { throw HostError.system("statvfs \(path)", errno) }
        let blockSize: Int64 = info.f_frsize != 0 ? Int64(info.f_frsize) : Int64(info.f_bsize)
        let blocks = Int64(info.f_blocks)
        let free = Int64(info.f_bfree)
        let available = Int64(info.f_bavail)
        let files = Int64(info.f_files)
        let freeFiles = Int64(info.f_ffree)
        return FilesystemUsage(
            totalBytes: blocks * blockSize,
            availableBytes: available * blockSize,
            usedBytes: (blocks - free) * blockSize,
            totalInodes: files,
            freeInodes: freeFiles,
            usedInodes: files - freeFiles
        )
    }
}
