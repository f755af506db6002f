import CLibCeph

#if canImport(Glibc)
import Glibc
#endif

/// Creates, grows and removes RBD images through librbd. Each call blocks.
public enum RBDImages {
    /// librbd's feature bits by the names StorageClasses use.
    public static let featureBits: [String: UInt64] = [
        "layering": 1, "exclusive-lock": 4, "object-map": 8, "fast-diff": 16, "deep-flatten": 32, "journaling": 64,
    ]

    /// The feature bits of `features` (names from `featureBits`).
    public static func bits(of features: [String]) -> UInt64 {
        features.reduce(UInt64(0)) { $0 | (featureBits[$1] ?? 0) }
    }

    /// Creates a format-2 image of `size` bytes; `features` nil leaves the cluster's
    /// `rbd_default_features`. An existing image is `imageExists`: it is not
    /// this call's, and whoever made it keeps it.
    public static func create(
        _ spec: ImageSpec, size: UInt64, features: [String]?, dataPool: String?, layout: ImageLayout = ImageLayout(), in ioctx: rados_ioctx_t
    ) throws(CephAccessError) {
        try spec.check()
        if let dataPool { try CephStringRule.name.check(dataPool, as: "data pool name \(dataPool.debugDescription)") }
        var options: rbd_image_options_t?
        rbd_image_options_create(&options)
        defer { rbd_image_options_destroy(options) }
        _ = rbd_image_options_set_uint64(options, Int32(RBD_IMAGE_OPTION_FORMAT), 2)
        if let features {
            _ = rbd_image_options_set_uint64(options, Int32(RBD_IMAGE_OPTION_FEATURES), bits(of: features))
        }
        if let dataPool, !dataPool.isEmpty {
            _ = rbd_image_options_set_string(options, Int32(RBD_IMAGE_OPTION_DATA_POOL), dataPool)
        }
        if let order = layout.order { _ = rbd_image_options_set_uint64(options, Int32(RBD_IMAGE_OPTION_ORDER), order) }
        if let unit = layout.stripeUnit, let count = layout.stripeCount {
            _ = rbd_image_options_set_uint64(options, Int32(RBD_IMAGE_OPTION_STRIPE_UNIT), unit)
            _ = rbd_image_options_set_uint64(options, Int32(RBD_IMAGE_OPTION_STRIPE_COUNT), count)
        }
        let result = rbd_create4(ioctx, spec.image, size, options)
        if result == -EEXIST { throw .imageExists(spec) }
        guard result == 0 else { throw .callFailed(operation: "create image \(spec)", errno: -result) }
    }

    /// Grows the image to `size` bytes (never shrinks).
    public static func grow(_ spec: ImageSpec, to size: UInt64, in ioctx: rados_ioctx_t) throws(CephAccessError) {
        try RBDImage.withOpen(spec, in: ioctx, readOnly: false) { handle throws(CephAccessError) in
            var info = rbd_image_info_t()
            let stat = rbd_stat(handle, &info, MemoryLayout<rbd_image_info_t>.size)
            guard stat == 0 else { throw .callFailed(operation: "stat image \(spec)", errno: -stat) }
            guard info.size < size else { return }
            let result = rbd_resize2(handle, size, false, nil, nil)
            guard result == 0 else { throw .callFailed(operation: "resize image \(spec)", errno: -result) }
        }
    }

    /// Moves the image to the trash and removes it from there, as ceph-csi does (it hands the
    /// removal to the manager; here it is done at once, and a removal that fails leaves the
    /// image in the trash, where `purgeTrash` finds it by name on the next delete). A missing
    /// image is not an error: its trash entry, if any, is purged. An image with snapshots that
    /// clones still use stays in the trash until its last clone goes; removing a clone then
    /// removes the trashed ancestors nothing needs any more.
    public static func remove(_ spec: ImageSpec, on connection: RadosConnection) throws(CephAccessError) {
        try spec.check()
        let parent = try connection.withIOContext(pool: spec.pool, namespace: spec.radosNamespace) { ioctx throws(CephAccessError) -> ImageParent? in
            var parent: ImageParent?
            do throws(CephAccessError) {
                parent = try ImageDetails.read(spec, in: ioctx).parent
            } catch {
                guard case .imageNotFound = error else { throw error }
            }
            let moved = rbd_trash_move(ioctx, spec.image, 0)
            guard moved == 0 || moved == -ENOENT else { throw .callFailed(operation: "move image \(spec) to the trash", errno: -moved) }
            try purgeTrash(named: spec, in: ioctx)
            return parent
        }
        ImageLineage.purgeTrashedAncestors(from: parent, on: connection)
    }

    /// Removes the trash entries of images named like `spec`'s; one that still has snapshots
    /// (kept by clones) stays.
    public static func purgeTrash(named spec: ImageSpec, in ioctx: rados_ioctx_t) throws(CephAccessError) {
        for id in try trashIDs(named: spec.image, in: ioctx) {
            var removed = rbd_trash_remove(ioctx, id, true)
            // Kept by snapshots: those in the trash namespace that no clone uses any more are
            // a crashed client's leftovers; without them the image can go now.
            if removed == -ENOTEMPTY, try TrashSnapshots.dropOrphans(imageID: id, in: ioctx) > 0 {
                removed = rbd_trash_remove(ioctx, id, true)
            }
            guard removed == 0 || removed == -ENOENT || removed == -ENOTEMPTY else {
                throw .callFailed(operation: "remove image \(spec) from the trash", errno: -removed)
            }
        }
    }

    private static func trashIDs(named name: String, in ioctx: rados_ioctx_t) throws(CephAccessError) -> [String] {
        var capacity = 16
        while true {
            var entries = [rbd_trash_image_info_t](repeating: rbd_trash_image_info_t(), count: capacity)
            var count = capacity
            let result = rbd_trash_list(ioctx, &entries, &count)
            if result == -ERANGE, count > capacity {
                capacity = count
                continue
            }
            guard result >= 0 else { throw .callFailed(operation: "list the trash", errno: -result) }
            let listed = Int(result)
            defer { rbd_trash_list_cleanup(&entries, listed) }
            return entries.prefix(listed).compactMap { entry in
                guard let entryName = entry.name, String(cString: entryName) == name, let id = entry.id else { return nil }
                return String(cString: id)
            }
        }
    }
}
