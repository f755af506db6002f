import CephAccess
import Foundation

/// Writes journal entries exactly as ceph-csi's controller does when it provisions a volume:
/// the directory object `csi.volumes.default` maps `csi.volume.<request name>` to a UUID, and
/// `csi.volume.<uuid>` holds `csi.volname`, `csi.imagename` and `csi.imageid`; the image is
/// `csi-vol-<uuid>`. Uses the admin user through the `rados` and `rbd` CLIs.
struct CephCSIJournal {
    var pool = CephTestCluster.pool
    var radosNamespace = ""

    struct Volume {
        var volumeID: String
        var uuid: String
        var image: String
        var requestName: String
    }

    /// The pool's id, as the controller encodes it into the volume id.
    func poolID() async throws -> Int64 {
        let json = try await CephTestCluster.ceph(["osd", "pool", "ls", "detail", "--format", "json"])
        let pools = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] ?? []
        guard let id = pools.first(where: { $0["pool_name"] as? String == pool })?["pool_id"] as? Int else {
            throw TestFailure("pool \(pool) not in \(json)")
        }
        return Int64(id)
    }

    private var namespaceArguments: [String] { radosNamespace.isEmpty ? [] : ["--namespace", radosNamespace] }

    func setOmap(_ object: String, _ key: String, _ value: String) async throws {
        try await CephTestCluster.rados(["-p", pool] + namespaceArguments + ["setomapval", object, key, value])
    }

    /// Provisions a volume: journal entry, then the image (`omitKeys` leaves keys out).
    func provision(clusterID: String, sizeMiB: Int = 64, omitKeys: Set<String> = []) async throws -> Volume {
        let uuid = UUID().uuidString.lowercased()
        let requestName = "pvc-\(UUID().uuidString.lowercased())"
        let image = "csi-vol-\(uuid)"
        let volumeID = try CSIVolumeID(clusterID: clusterID, poolID: try await poolID(), objectUUID: uuid).encoded()
        try await setOmap("csi.volumes.default", "csi.volume.\(requestName)", uuid)
        let object = "csi.volume.\(uuid)"
        if !omitKeys.contains("csi.volname") { try await setOmap(object, "csi.volname", requestName) }
        if !omitKeys.contains("csi.imagename") { try await setOmap(object, "csi.imagename", image) }
        let spec = radosNamespace.isEmpty ? "\(pool)/\(image)" : "\(pool)/\(radosNamespace)/\(image)"
        try await CephTestCluster.rbd(["create", "--size", "\(sizeMiB)", spec])
        let info = try await CephTestCluster.rbd(["info", "--format", "json", spec])
        let imageID = (try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any])?["id"] as? String ?? ""
        if !omitKeys.contains("csi.imageid") { try await setOmap(object, "csi.imageid", imageID) }
        return Volume(volumeID: volumeID, uuid: uuid, image: image, requestName: requestName)
    }

    struct Snapshot {
        var snapshotID: String
        var uuid: String
        var image: String
        var requestName: String
    }

    /// Takes a snapshot as ceph-csi's CreateSnapshot does: the snapshot journal entry, a
    /// snapshot of the volume named after the new image, a clone-format-2 clone of it with
    /// layering and deep-flatten, the transient snapshot removed, the image's own snapshot.
    func snapshot(of volume: Volume, clusterID: String) async throws -> Snapshot {
        let uuid = UUID().uuidString.lowercased()
        let requestName = "snapshot-\(UUID().uuidString.lowercased())"
        let image = "csi-snap-\(uuid)"
        try await setOmap("csi.snaps.default", "csi.snap.\(requestName)", uuid)
        let object = "csi.snap.\(uuid)"
        try await setOmap(object, "csi.snapname", requestName)
        try await setOmap(object, "csi.imagename", image)
        try await setOmap(object, "csi.source", volume.image)
        try await CephTestCluster.rbd(["snap", "create", "\(pool)/\(volume.image)@\(image)"])
        try await CephTestCluster.rbd([
            "clone", "--rbd-default-clone-format", "2", "--image-feature", "layering", "--image-feature", "deep-flatten",
            "\(pool)/\(volume.image)@\(image)", "\(pool)/\(image)",
        ])
        try await CephTestCluster.rbd(["snap", "rm", "\(pool)/\(volume.image)@\(image)"])
        try await CephTestCluster.rbd(["snap", "create", "\(pool)/\(image)@\(image)"])
        let info = try await CephTestCluster.rbd(["info", "--format", "json", "\(pool)/\(image)"])
        try await setOmap(object, "csi.imageid", (try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any])?["id"] as? String ?? "")
        let snapshotID = try CSIVolumeID(clusterID: clusterID, poolID: try await poolID(), objectUUID: uuid).encoded()
        return Snapshot(snapshotID: snapshotID, uuid: uuid, image: image, requestName: requestName)
    }

    /// Creates the RADOS namespace (idempotent).
    func createNamespace() async throws {
        let existing = try await CephTestCluster.rbd(["namespace", "ls", "--pool", pool, "--format", "json"])
        if !existing.contains("\"\(radosNamespace)\"") {
            try await CephTestCluster.rbd(["namespace", "create", "--pool", pool, "--namespace", radosNamespace])
        }
    }
}
