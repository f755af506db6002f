import Foundation
import HostOperations
import Testing

/// Superblock sizes read from filesystems made by the real mkfs tools on files.
@Suite("Filesystem superblocks")
struct FilesystemSuperblockTests {
    static func image(sizeMiB: Int, mkfs: String, _ arguments: [String]) async throws -> String {
        let path = NSTemporaryDirectory() + "rbdcsi-sb-\(UUID().uuidString.prefix(8)).img"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(sizeMiB) << 20)
        try handle.close()
        try await ProcessRunner().runChecked(Command(mkfs, arguments + [path], timeout: .seconds(60)))
        return path
    }

    @Test(arguments: [
        ("mkfs.ext4", ["-q", "-F"], 64),
        ("mkfs.ext4", ["-q", "-F", "-O", "64bit", "-b", "1024"], 40),
        ("mkfs.xfs", ["-q", "-f"], 320),
    ])
    func sizeMatchesTheFileMadeByMkfs(mkfs: String, arguments: [String], sizeMiB: Int) async throws {
        let path = try await Self.image(sizeMiB: sizeMiB, mkfs: mkfs, arguments)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let superblock = try #require(try FilesystemSuperblock.read(device: path))
        #expect(superblock.sizeBytes == UInt64(sizeMiB) << 20)
        #expect(!superblock.isSmaller(thanDevice: UInt64(sizeMiB) << 20))
        #expect(superblock.isSmaller(thanDevice: UInt64(sizeMiB + 1) << 20))
        if arguments.contains("1024") { #expect(superblock.blockSize == 1024) }
    }

    @Test func blankOrForeignHeadersHaveNoSuperblock() {
        #expect(FilesystemSuperblock.parse([UInt8](repeating: 0, count: 4096)) == nil)
        #expect(FilesystemSuperblock.parse([UInt8](repeating: 0xEF, count: 4096)) == nil)
        #expect(FilesystemSuperblock.parse([0x58, 0x46, 0x53, 0x42]) == nil)  // too short
    }
}
