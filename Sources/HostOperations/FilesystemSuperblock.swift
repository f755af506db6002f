#if canImport(Glibc)
import Glibc
#endif

/// The size of a filesystem as its superblock records it (ext2/3/4 and xfs), read straight
/// from the device without a child process: what grow-on-stage compares with the device size.
public struct FilesystemSuperblock: Sendable, Hashable {
    public var blockSize: UInt64
    public var blockCount: UInt64
    public var sizeBytes: UInt64 { blockSize * blockCount }

    public init(blockSize: UInt64, blockCount: UInt64) {
        self.blockSize = blockSize
        self.blockCount = blockCount
    }

    /// Bytes to read from the start of a device to parse either superblock.
    public static let headerLength = 4096

    /// Parses the first `headerLength` bytes of a device; nil when they hold neither an ext
    /// nor an xfs superblock.
    public static func parse(_ header: [UInt8]) -> FilesystemSuperblock? {
        guard header.count >= headerLength else { return nil }
        func little(_ offset: Int, _ width: Int) -> UInt64 {
            (0..<width).reduce(0) { $0 | UInt64(header[offset + $1]) << (8 * $1) }
        }
        func big(_ offset: Int, _ width: Int) -> UInt64 {
            (0..<width).reduce(0) { $0 << 8 | UInt64(header[offset + $1]) }
        }
        // XFS: "XFSB", then sb_blocksize (u32 BE) and sb_dblocks (u64 BE).
        if big(0, 4) == 0x5846_5342 {
            return FilesystemSuperblock(blockSize: big(4, 4), blockCount: big(8, 8))
        }
        // ext2/3/4: the superblock at 1024, magic 0xEF53 at +0x38; blocks at +0x4 (and +0x150
        // with the 64bit feature, incompat bit 0x80 at +0x60); block size 1024 << (+0x18).
        let ext = 1024
        guard little(ext + 0x38, 2) == 0xEF53 else { return nil }
        let logBlockSize = little(ext + 0x18, 4)
        guard logBlockSize <= 6 else { return nil }
        var blocks = little(ext + 0x4, 4)
        if little(ext + 0x60, 4) & 0x80 != 0 { blocks |= little(ext + 0x150, 4) << 32 }
        return FilesystemSuperblock(blockSize: 1024 << logBlockSize, blockCount: blocks)
    }

    /// Reads and parses the superblock of `device`.
    public static func read(device: String) throws -> FilesystemSuperblock? {
        let fd = open(device, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HostError.system("open \(device)", errno) }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: headerLength)
        let count = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, headerLength, 0) }
        guard count == headerLength else { throw HostError.system("read the superblock of \(device)", count < 0 ? errno : EIO) }
        return parse(header)
    }

    /// Whether a device of `deviceBytes` has room for more than one more block: Kubernetes'
    /// rule for when a filesystem needs to grow.
    public func isSmaller(thanDevice deviceBytes: UInt64) -> Bool {
        deviceBytes > sizeBytes + blockSize
    }
}
