@testable import CephAccess
import Foundation
import Testing

/// `TrashSnapshots.dropOrphans`, which frees an image that a crashed client's half-done clone
/// removal left pinned in the trash, never touches a snapshot that is still used or that is
/// not librbd's trash bookkeeping.
@Suite("trash-namespace snapshots on the local cluster", .enabled(if: CephTestCluster.isConfigured))
struct TrashSnapshotsTests {
    @Test func aTrashSnapshotAClonesUsesAndAUserSnapshotAreKept() async throws {
        let pool = RadosConnectionPool(limit: .seconds(10))
        defer { Task { await pool.close() } }
        // In a namespace of its own: other suites compare the default namespace's image list.
        let namespace = try await IsolatedNamespace.make()
        let parent = "parent"
        let clone = parent + "-clone"
        try await CephTestCluster.rbd(["create", "--size", "8", "\(namespace.poolSpec)/\(parent)"])
        let base = "\(namespace.poolSpec)/\(parent)"
        try await CephTestCluster.rbd(["snap", "create", "\(base)@kept-by-user"])
        try await CephTestCluster.rbd(["snap", "create", "\(base)@transient"])
        try await CephTestCluster.rbd(["clone", "--rbd-default-clone-format", "2", "\(base)@transient", "\(namespace.poolSpec)/\(clone)"])
        // Removed while the clone uses it: it moves to the trash namespace.
        try await CephTestCluster.rbd(["snap", "rm", "\(base)@transient"])
        let id = try await CephTestCluster.rbd(["info", "--format", "json", base]).split(separator: "\"").drop { $0 != "id" }.dropFirst(2).first.map(String.init) ?? ""
        #expect(!id.isEmpty)

        let dropped = try await pool.withIOContext(pool: CephTestCluster.pool, namespace: namespace.name, access: CephTestCluster.access, operation: "drop orphans") { ioctx throws(CephAccessError) in
            try TrashSnapshots.dropOrphans(imageID: id, in: ioctx)
        }
        #expect(dropped == 0)
        // librbd's listing, which `dropOrphans` goes through, sees the trash snapshot too.
        let listed = try await pool.withIOContext(pool: CephTestCluster.pool, namespace: namespace.name, access: CephTestCluster.access, operation: "count") { ioctx throws(CephAccessError) in
            try RBDSnapshots.count(ImageSpec(pool: CephTestCluster.pool, radosNamespace: namespace.name, image: parent), in: ioctx)
        }
        #expect(listed == 2)
        let snapshots = try await CephTestCluster.rbd(["snap", "ls", "--all", base])
        #expect(snapshots.contains("kept-by-user"))
        #expect(snapshots.contains("trash"))

        // Once the clone goes, librbd removes the trash snapshot itself.
        try await CephTestCluster.rbd(["rm", "\(namespace.poolSpec)/\(clone)"])
        #expect(!(try await CephTestCluster.rbd(["snap", "ls", "--all", base])).contains("trash"))
        try await CephTestCluster.rbd(["snap", "rm", "\(base)@kept-by-user"])
        try await CephTestCluster.rbd(["rm", base])
        await namespace.removeIfEmpty()
    }
}
