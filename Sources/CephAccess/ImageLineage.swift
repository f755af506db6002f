import CLibCeph

#if canImport(Glibc)
import Glibc
#endif

/// Walks an image's chain of parents by image id, trashed parents included. ceph-csi stops at
/// a parent it cannot open by name, so a chain through a deleted volume reads too short and
/// passes the hard depth limit (ceph-csi #4013); this walk does not. Each call blocks.
public enum ImageLineage {
    /// Chains longer than this are cut: librbd itself refuses deeper ones.
    static let longestChain = 64

    /// The number of parent links from `spec` up to an image without a parent.
    public static func depth(of spec: ImageSpec, on connection: RadosConnection) throws(CephAccessError) -> Int {
        var parent = try connection.withIOContext(pool: spec.pool, namespace: spec.radosNamespace) { ioctx throws(CephAccessError) in
            try ImageDetails.read(spec, in: ioctx).parent
        }
        var depth = 0
        while let link = parent, depth < longestChain {
            depth += 1
            parent = try self.parent(of: link, on: connection)
        }
        return depth
    }

    /// The parent of `image` (itself a parent, opened by id so that a trashed one is found).
    static func parent(of image: ImageParent, on connection: RadosConnection) throws(CephAccessError) -> ImageParent? {
        try connection.withIOContext(pool: image.pool, namespace: image.radosNamespace) { ioctx throws(CephAccessError) in
            var handle: rbd_image_t?
            let opened = rbd_open_by_id_read_only(ioctx, image.imageID, &handle, nil)
            if opened == -ENOENT { return nil }
            guard opened == 0, let handle else { throw .callFailed(operation: "open image id \(image.imageID) (\(image.spec))", errno: -opened) }
            defer { rbd_close(handle) }
            return try ImageParent.read(handle, spec: "\(image.spec)")
        }
    }

    /// Removes trashed ancestors that no clone needs any more, starting at `parent` (the parent
    /// of an image just removed): a deleted volume with snapshots or clones stays in the trash
    /// until its last dependant goes, and then goes too (ceph-csi leaves it to a manager task
    /// that retries forever, #3416). Stops at the first ancestor that is not in the trash or
    /// still has snapshots. Best effort: what stays is found again by the next removal.
    public static func purgeTrashedAncestors(from parent: ImageParent?, on connection: RadosConnection) {
        var next = parent
        var steps = 0
        while let image = next, image.trashed, steps < longestChain {
            steps += 1
            let grandparent = try? self.parent(of: image, on: connection)
            let removed = (try? connection.withIOContext(pool: image.pool, namespace: image.radosNamespace) { ioctx throws(CephAccessError) in
                rbd_trash_remove(ioctx, image.imageID, false)
            }) ?? -EIO
            guard removed == 0 else { return }
            next = grandparent
        }
    }
}
