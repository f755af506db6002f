import CLibCeph

#if canImport(Glibc)
import Glibc
#endif

/// RBD snapshots and clone-format-2 clones through librbd, as ceph-csi makes them (contract
/// §4): a snapshot of the parent, a clone of it, and the snapshot removed at once, which with
/// clone v2 moves it to the trash snapshot namespace while the clone lives. Each call blocks.
public enum RBDSnapshots {
    /// Creates snapshot `name` of the image; an existing one is fine.
    public static func create(_ spec: ImageSpec, snapshot name: String, in ioctx: rados_ioctx_t) throws(CephAccessError) {
        try CephStringRule.name.check(name, as: "snapshot name \(name.debugDescription)")
        try RBDImage.withOpen(spec, in: ioctx, readOnly: false) { handle throws(CephAccessError) in
            let result = rbd_snap_create(handle, name)
            guard result == 0 || result == -EEXIST else { throw .callFailed(operation: "create snapshot \(spec)@\(name)", errno: -result) }
        }
    }

    /// Removes snapshot `name`; a missing image or snapshot is fine. A snapshot with clones
    /// goes to the trash namespace, and librbd removes it there when its last clone goes.
    public static func remove(_ spec: ImageSpec, snapshot name: String, in ioctx: rados_ioctx_t) throws(CephAccessError) {
        try CephStringRule.name.check(name, as: "snapshot name \(name.debugDescription)")
        do {
            try RBDImage.withOpen(spec, in: ioctx, readOnly: false) { handle throws(CephAccessError) in
                let result = rbd_snap_remove(handle, name)
                guard result == 0 || result == -ENOENT else { throw .callFailed(operation: "remove snapshot \(spec)@\(name)", errno: -result) }
            }
        } catch .imageNotFound {
            return
        }
    }

    /// Clones `parent@snapshot` into `child` as a clone-format-2 image; an existing `child` is
    /// fine (a retry after a crash). `features` nil keeps librbd's defaults.
    public static func clone(
        _ parent: ImageSpec, snapshot: String, parentIn parentIoctx: rados_ioctx_t,
        to child: ImageSpec, childIn childIoctx: rados_ioctx_t, features: [String]?, dataPool: String?
    ) throws(CephAccessError) {
        try parent.check()
        try child.check()
        try CephStringRule.name.check(snapshot, as: "snapshot name \(snapshot.debugDescription)")
        if let dataPool { try CephStringRule.name.check(dataPool, as: "data pool name \(dataPool.debugDescription)") }
        var options: rbd_image_options_t?
        rbd_image_options_create(&options)
        defer { rbd_image_options_destroy(options) }
        _ = rbd_image_options_set_uint64(options, Int32(RBD_IMAGE_OPTION_FORMAT), 2)
        _ = rbd_image_options_set_uint64(options, Int32(RBD_IMAGE_OPTION_CLONE_FORMAT), 2)
        if let features {
            _ = rbd_image_options_set_uint64(options, Int32(RBD_IMAGE_OPTION_FEATURES), RBDImages.bits(of: features))
        }
        if let dataPool, !dataPool.isEmpty {
            _ = rbd_image_options_set_string(options, Int32(RBD_IMAGE_OPTION_DATA_POOL), dataPool)
        }
        let result = rbd_clone3(parentIoctx, parent.image, snapshot, childIoctx, child.image, options)
        guard result == 0 || result == -EEXIST else {
            throw .callFailed(operation: "clone \(parent)@\(snapshot) to \(child)", errno: -result)
        }
    }

    /// The number of snapshots of the image, trash and other namespaces included (what counts
    /// against librbd's limit of 510 per image).
    public static func count(_ spec: ImageSpec, in ioctx: rados_ioctx_t) throws(CephAccessError) -> Int {
        try RBDImage.withOpen(spec, in: ioctx, readOnly: true) { handle throws(CephAccessError) in
            try ids(handle, of: "\(spec)").count
        }
    }

    /// The ids of the open image's snapshots, every namespace included; `name` names the image
    /// in an error.
    static func ids(_ handle: rbd_image_t, of name: String) throws(CephAccessError) -> [UInt64] {
        var capacity: Int32 = 16
        while true {
            var snaps = [rbd_snap_info_t](repeating: rbd_snap_info_t(), count: Int(capacity) + 1)
            var max = capacity
            let result = rbd_snap_list(handle, &snaps, &max)
            if result == -ERANGE {
                capacity = Swift.max(max, capacity * 2)
                continue
            }
            guard result >= 0 else { throw .callFailed(operation: "list snapshots of \(name)", errno: -result) }
            let ids = snaps.prefix(Int(result)).map(\.id)
            rbd_snap_list_end(&snaps)
            return ids
        }
    }
}
