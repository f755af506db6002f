import Foundation
import Testing

@testable import HostOperations

/// The mount table read again only when the kernel says it changed (issue 15: stats latency).
@Suite("Mount table cache (POLLPRI on /proc/self/mountinfo)")
struct MountInfoCacheTests {
    @Test func aMountAndAnUnmountShowAtOnce() throws {
        let directory = NSTemporaryDirectory() + "rbdcsi-mountinfo-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cache = MountInfoCache()
        let lookup = { try cache.snapshot().entry(at: directory) }
        for _ in 0..<20 {
            #expect(try lookup() == nil)
            try SystemCall.run("mount tmpfs") { mount("rbdcsi-test", directory, "tmpfs", 0, "size=1m") }
            #expect(try lookup()?.fsType == "tmpfs")
            try SystemCall.run("umount") { umount(directory) }
        }
        #expect(try lookup() == nil)
        // Each of the 40 changes was seen, so the file was read again after each.
        #expect(cache.reads >= 40)
    }

    @Test func anUnchangedTableIsNotReadAgain() throws {
        let cache = MountInfoCache()
        let first = try cache.snapshot()
        #expect(first.entry(at: "/") != nil)
        for _ in 0..<200 { _ = try cache.snapshot() }
        // Other tests mount and unmount meanwhile (one mount namespace); without the cache every
        // call would read the file.
        #expect(cache.reads < 50, "\(cache.reads) reads for 201 calls")
    }
}
