@testable import CephAccess
import Foundation
import Testing

/// The stage's in-use check reads an image's watchers straight from its header object
/// (`ImageWatchers`); librbd's list, after opening the image, is the reference it must match.
@Suite("image watchers on the local cluster", .enabled(if: CephTestCluster.isConfigured))
struct ImageWatchersTests {
    @Test func matchesLibrbdWithAndWithoutAWatcher() async throws {
        let pool = RadosConnectionPool(limit: .seconds(10))
        defer { Task { await pool.close() } }
        let reader = RadosMetadataReader(connections: pool)
        let image = try await CephTestCluster.createImage()
        let spec = ImageSpec(pool: CephTestCluster.pool, radosNamespace: "", image: image)

        #expect(try await reader.imageWatchers(spec, access: CephTestCluster.access) == [])
        let unwatched = try await pool.withIOContext(pool: spec.pool, namespace: "", access: CephTestCluster.access, operation: "list watchers") { ioctx throws(CephAccessError) in
            try ImageWatchers.direct(spec, in: ioctx)
        }
        #expect(unwatched == [])
        #expect(try await reader.imageStatus(spec, access: CephTestCluster.access).watchers == [])

        // Another client watching the image's header, as a mapping does.
        let status = try await reader.imageStatus(spec, access: CephTestCluster.access)
        let watcher = Process()
        watcher.executableURL = URL(fileURLWithPath: "/usr/bin/rados")
        watcher.arguments = ["-c", CephTestCluster.conf, "-p", CephTestCluster.pool, "watch", "rbd_header.\(status.imageID)"]
        // It watches until its standard input ends ("press enter to exit").
        let input = Pipe()
        watcher.standardInput = input
        watcher.standardOutput = FileHandle.nullDevice
        watcher.standardError = FileHandle.nullDevice
        try watcher.run()
        var watchers: [String] = []
        for _ in 0..<100 where watchers.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            watchers = try await reader.imageWatchers(spec, access: CephTestCluster.access)
        }
        let byLibrbd = try await reader.imageStatus(spec, access: CephTestCluster.access).watchers
        // Read by the header object itself, not by librbd's answer as a fallback.
        let direct = try await pool.withIOContext(pool: spec.pool, namespace: "", access: CephTestCluster.access, operation: "list watchers") { ioctx throws(CephAccessError) in
            try ImageWatchers.direct(spec, in: ioctx)
        }
        // End of input ends it (it ignores SIGTERM while it waits for a line).
        try input.fileHandleForWriting.close()
        for _ in 0..<100 where watcher.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        if watcher.isRunning { kill(watcher.processIdentifier, SIGKILL) }
        #expect(watchers.count == 1)
        #expect(watchers.first?.contains("/") == true, "an address like 127.0.0.1:0/1234: \(watchers)")
        #expect(byLibrbd == watchers)
        #expect(direct == watchers)
        try await CephTestCluster.rbd(["rm", "--no-progress", "\(CephTestCluster.pool)/\(image)"])
    }

    @Test func aMissingImageIsNotFound() async throws {
        let pool = RadosConnectionPool(limit: .seconds(10))
        defer { Task { await pool.close() } }
        let spec = ImageSpec(pool: CephTestCluster.pool, radosNamespace: "", image: "e2e-never-created-\(UUID().uuidString.prefix(8).lowercased())")
        await #expect {
            _ = try await RadosMetadataReader(connections: pool).imageWatchers(spec, access: CephTestCluster.access)
        } throws: { error in
            if case CephAccessError.imageNotFound = error { return true }
            return false
        }
    }
}
