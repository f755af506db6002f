@testable import CephAccess
import Foundation
import Testing

/// A delete whose journal writes stop half-way (the plugin killed between them; here the
/// second write refused by cephx) is finished by its retry, which finds the reservation by the
/// volume id's UUID: nothing of it may be left where no id or name leads (the crash sweep found
/// `csi.volume.<name>` keys left this way).
@Suite("journal release cut short, on the local cluster", .enabled(if: CephTestCluster.isConfigured))
struct JournalReleaseTests {
    @Test func aReleaseCutShortIsFinishedByItsRetry() async throws {
        let namespace = try await IsolatedNamespace.make()
        // May write entry objects (`csi.volume.<uuid>`) but not the directory (`csi.volumes.default`).
        let user = "rbdcsi-journal-\(namespace.name)"
        try await CephTestCluster.ceph([
            "auth", "get-or-create", "client.\(user)", "mon", "allow r",
            "osd", "allow r pool=\(CephTestCluster.pool) namespace=\(namespace.name), allow rwx pool=\(CephTestCluster.pool) namespace=\(namespace.name) object_prefix csi.volume.",
        ])
        defer { Task { try? await CephTestCluster.ceph(["auth", "rm", "client.\(user)"]) } }
        let key = try await CephTestCluster.ceph(["auth", "get-key", "client.\(user)"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let limited = ClusterAccess(monitors: [CephTestCluster.monitor], credentials: CephCredentials(secrets: ["userID": user, "userKey": key])!)
        let pool = RadosConnectionPool(limit: .seconds(10))
        defer { Task { await pool.close() } }
        let journal = VolumeJournal(instanceID: "default")
        let uuid = try await pool.withIOContext(pool: CephTestCluster.pool, namespace: namespace.name, access: CephTestCluster.access, operation: "journal") { ioctx throws(CephAccessError) in
            try journal.reserve("release-cut-short", imagePrefix: "csi-vol-", values: [:], uuid: nil, in: ioctx)
        }
        await #expect(throws: CephAccessError.self) {
            try await pool.withIOContext(pool: CephTestCluster.pool, namespace: namespace.name, access: limited, operation: "journal") { ioctx throws(CephAccessError) in try journal.release(uuid: uuid, requestName: "release-cut-short", in: ioctx) }
        }
        // The retry, as DeleteVolume's: the entry found by the UUID, the name read from it.
        try await pool.withIOContext(pool: CephTestCluster.pool, namespace: namespace.name, access: CephTestCluster.access, operation: "journal") { ioctx throws(CephAccessError) in
            let name = try journal.entry(uuid: uuid, in: ioctx)?[journal.requestNameKey]
            try journal.release(uuid: uuid, requestName: name, in: ioctx)
        }
        let left = try await namespace.leftovers()
        #expect(left == [], "\(left)")
        await namespace.removeIfEmpty()
    }

    /// The key goes only while it names the UUID being released: bare or in ceph-csi's
    /// `<pool id>/<uuid>` form; a key that another reservation of the name holds stays.
    @Test func onlyAKeyThatNamesTheUUIDIsRemoved() async throws {
        let namespace = try await IsolatedNamespace.make()
        let pool = RadosConnectionPool(limit: .seconds(10))
        defer { Task { await pool.close() } }
        let journal = VolumeJournal(instanceID: "default")
        let mine = "5e3c1a9e-0000-4000-8000-00000000000a"
        let theirs = "5e3c1a9e-0000-4000-8000-00000000000b"
        let keys = try await pool.withIOContext(pool: CephTestCluster.pool, namespace: namespace.name, access: CephTestCluster.access, operation: "journal") { ioctx throws(CephAccessError) in
            try RadosObjects.setValues([journal.directoryKey("prefixed"): "0000000000000003/" + mine, journal.directoryKey("taken"): theirs], of: journal.directoryObject, in: ioctx)
            try journal.release(uuid: mine, requestName: "prefixed", in: ioctx)
            try journal.release(uuid: mine, requestName: "taken", in: ioctx)
            return try RadosOmap.values(of: journal.directoryObject, keys: [journal.directoryKey("prefixed"), journal.directoryKey("taken")], in: ioctx)
        }
        #expect(keys == [journal.directoryKey("taken"): theirs])
        _ = try await pool.withIOContext(pool: CephTestCluster.pool, namespace: namespace.name, access: CephTestCluster.access, operation: "journal") { ioctx throws(CephAccessError) in
            try RadosObjects.remove(journal.directoryObject, in: ioctx)
        }
        await namespace.removeIfEmpty()
    }
}
