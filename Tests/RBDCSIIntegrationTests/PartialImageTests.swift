@testable import CephAccess
import Foundation
import Testing

/// An image whose create was cut short (the plugin killed inside `rbd_create4`): its id object
/// and directory entry exist, its header does not. librbd cannot open it, so it cannot go to
/// the trash; it must still be removable, or its name (the reservation's image name, which
/// the retry reuses) is taken for good.
@Suite("half-created images on the local cluster", .enabled(if: CephTestCluster.isConfigured))
struct PartialImageTests {
    @Test func anImageWithoutItsHeaderIsRemovedAndItsNameFreed() async throws {
        let pool = RadosConnectionPool(limit: .seconds(10))
        defer { Task { await pool.close() } }
        let namespace = try await IsolatedNamespace.make()
        let name = "csi-vol-partial"
        let spec = ImageSpec(pool: CephTestCluster.pool, radosNamespace: namespace.name, image: name)
        try await CephTestCluster.rbd(["create", "--size", "8", "--image-feature", "layering", "\(namespace.poolSpec)/\(name)"])
        let info = try await CephTestCluster.rbd(["info", "--format", "json", "\(namespace.poolSpec)/\(name)"])
        let id = info.split(separator: "\"").drop { $0 != "id" }.dropFirst(2).first.map(String.init) ?? ""
        #expect(!id.isEmpty)
        // What a create killed between its id object and its header leaves.
        try await CephTestCluster.rados(["-p", CephTestCluster.pool, "-N", namespace.name, "rm", "rbd_header.\(id)"])

        try await pool.withConnection(to: CephTestCluster.access, operation: "remove") { try RBDImages.remove(spec, on: $0) }
        let objects = try await CephTestCluster.rados(["-p", CephTestCluster.pool, "-N", namespace.name, "ls"])
        #expect(!objects.contains("rbd_id.\(name)"), "\(objects)")
        #expect(try await namespace.images() == [])
        // The name is free again: the retry's create makes the image anew.
        try await pool.withIOContext(pool: CephTestCluster.pool, namespace: namespace.name, access: CephTestCluster.access, operation: "create") { ioctx throws(CephAccessError) in
            try RBDImages.create(spec, size: 8 << 20, features: ["layering"], dataPool: nil, in: ioctx)
        }
        #expect(try await namespace.images() == [name])
        try await pool.withConnection(to: CephTestCluster.access, operation: "remove") { try RBDImages.remove(spec, on: $0) }
        #expect(try await namespace.images() == [])
        await namespace.removeIfEmpty()
    }
}
