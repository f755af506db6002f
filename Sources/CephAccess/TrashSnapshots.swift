import CLibCeph

#if canImport(Glibc)
import Glibc
#endif

/// The snapshots librbd keeps in an image's trash namespace: a snapshot removed while clones
/// still used it (clone format 2), removed by librbd when its last clone goes. A client killed
/// while removing that last clone can leave the snapshot behind with no clone at all, and it
/// then pins its image in the trash for good (seen in the crash sweep). Such a snapshot is
/// librbd's own bookkeeping of a snapshot the driver already removed: dropping it removes
/// nothing anyone made or uses. A snapshot in the user namespace is never touched.
enum TrashSnapshots {
    /// Removes the trash-namespace snapshots of image `imageID` that no clone uses; how many.
    /// One that clones still use stays (librbd refuses it).
    static func dropOrphans(imageID: String, in ioctx: rados_ioctx_t) throws(CephAccessError) -> Int {
        try CephStringRule.text.check(imageID, as: "image id")
        var handle: rbd_image_t?
        let opened = rbd_open_by_id(ioctx, imageID, &handle, nil)
        if opened == -ENOENT { return 0 }
        guard opened == 0, let handle else { throw .callFailed(operation: "open image id \(imageID)", errno: -opened) }
        defer { rbd_close(handle) }
        var dropped = 0
        for id in try RBDSnapshots.ids(handle, of: "image id \(imageID)") {
            var type = rbd_snap_namespace_type_t(rawValue: 0)
            guard rbd_snap_get_namespace_type(handle, id, &type) == 0, type == RBD_SNAP_NAMESPACE_TYPE_TRASH else { continue }
            let removed = rbd_snap_remove_by_id(handle, id)
            if removed == 0 { dropped += 1 }
        }
        return dropped
    }
}
