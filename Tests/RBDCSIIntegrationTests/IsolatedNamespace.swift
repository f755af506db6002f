import Foundation

/// A RADOS namespace of the test pool of its own, with a cluster id whose config entry names
/// it: every image, trash entry and journal object a test's controller makes lands in it, so
/// that what is left over can be counted exactly while other suites use the pool.
struct IsolatedNamespace {
    let name: String
    var clusterID: String { "ns-" + name }
    var configEntry: CephTestCluster.ConfigEntry { .init(clusterID: clusterID, radosNamespace: name) }
    var poolSpec: String { "\(CephTestCluster.pool)/\(name)" }

    static func make() async throws -> IsolatedNamespace {
        let namespace = IsolatedNamespace(name: "t\(UUID().uuidString.prefix(8).lowercased())")
        try await CephTestCluster.rbd(["namespace", "create", namespace.poolSpec])
        return namespace
    }

    /// The CreateVolume parameters for this namespace's cluster id.
    var parameters: [String: String] { ["clusterID": clusterID, "pool": CephTestCluster.pool, "mounter": "rbd-fuse"] }

    func images() async throws -> [String] {
        try await CephTestCluster.rbd(["ls", poolSpec]).split(separator: "\n").map(String.init)
    }

    /// Everything a controller may leave: images with their snapshots (trash namespace
    /// included), trash entries, journal entry objects and directory keys. Empty when nothing
    /// was left.
    func leftovers() async throws -> [String] {
        var found: [String] = []
        for image in try await images() {
            found.append("image \(image)")
            let snapshots = try await CephTestCluster.rbd(["snap", "ls", "--all", "\(poolSpec)/\(image)"])
            for line in snapshots.split(separator: "\n").dropFirst() { found.append("snapshot of \(image): \(line)") }
        }
        for line in try await CephTestCluster.rbd(["trash", "ls", "--all", poolSpec]).split(separator: "\n") {
            found.append("trash \(line)")
            // What keeps it there: its snapshots, by name and namespace.
            if let id = line.split(separator: " ").first {
                let snapshots = try? await CephTestCluster.rbd(["snap", "ls", "--all", "--pool", CephTestCluster.pool, "--namespace", name, "--image-id", String(id)])
                for snapshot in (snapshots ?? "").split(separator: "\n").dropFirst() { found.append("snapshot of trashed \(id): \(snapshot)") }
            }
        }
        let objects = try await CephTestCluster.rados(["-p", CephTestCluster.pool, "-N", name, "ls"]).split(separator: "\n").map(String.init)
        for object in objects {
            if object.hasPrefix("csi.volume.") || object.hasPrefix("csi.snap.") { found.append("journal entry object \(object)") }
            if object.hasPrefix("csi.volumes.") || object.hasPrefix("csi.snaps.") {
                let keys = try await CephTestCluster.rados(["-p", CephTestCluster.pool, "-N", name, "listomapkeys", object])
                for key in keys.split(separator: "\n") { found.append("journal key \(object)/\(key)") }
            }
        }
        return found
    }

    /// The omap keys of journal directory `object` in this namespace.
    func directoryKeys(_ object: String = "csi.volumes.default") async throws -> [String] {
        let objects = try await CephTestCluster.rados(["-p", CephTestCluster.pool, "-N", name, "ls"])
        guard objects.split(separator: "\n").contains(Substring(object)) else { return [] }
        return try await CephTestCluster.rados(["-p", CephTestCluster.pool, "-N", name, "listomapkeys", object]).split(separator: "\n").map(String.init)
    }

    /// Removes the namespace once it is empty (a test that left things keeps it, to look at).
    func removeIfEmpty() async {
        guard (try? await leftovers())?.isEmpty == true else { return }
        _ = try? await CephTestCluster.rbd(["namespace", "remove", poolSpec])
    }
}
