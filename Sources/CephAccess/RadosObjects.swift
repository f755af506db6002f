import CLibCeph

#if canImport(Glibc)
import Glibc
#endif

/// Writes to RADOS objects and their omaps: the journal's side of the controller. Each call
/// blocks (run it inside `RadosConnectionPool.withConnection`).
public enum RadosObjects {
    /// Creates `object` empty; false when it already exists (an exclusive create).
    public static func createExclusive(_ object: String, in ioctx: rados_ioctx_t) throws(CephAccessError) -> Bool {
        try write(object, in: ioctx, operation: "create object \(object)", allow: [EEXIST]) { op in
            rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, nil)
        } != EEXIST
    }

    /// Sets omap `values` of `object` (creating it if needed).
    public static func setValues(_ values: [String: String], of object: String, in ioctx: rados_ioctx_t) throws(CephAccessError) {
        let pairs = values.sorted { $0.key < $1.key }
        let keys = pairs.map { strdup($0.key) }
        let texts = pairs.map { strdup($0.value) }
        defer { (keys + texts).forEach { free($0) } }
        let keyLengths = pairs.map { $0.key.utf8.count }
        let valueLengths = pairs.map { $0.value.utf8.count }
        _ = try write(object, in: ioctx, operation: "set omap of \(object)", allow: []) { op in
            keys.map { UnsafePointer($0) }.withUnsafeBufferPointer { k in
                texts.map { UnsafePointer($0) }.withUnsafeBufferPointer { v in
                    rados_write_op_omap_set2(op, k.baseAddress, v.baseAddress, keyLengths, valueLengths, pairs.count)
                }
            }
        }
    }

    /// Removes omap `keys` of `object`; a missing object or key is fine.
    public static func removeKeys(_ keys: [String], of object: String, in ioctx: rados_ioctx_t) throws(CephAccessError) {
        let cKeys = keys.map { strdup($0) }
        defer { cKeys.forEach { free($0) } }
        let lengths = keys.map { $0.utf8.count }
        _ = try write(object, in: ioctx, operation: "remove omap keys of \(object)", allow: [ENOENT]) { op in
            rados_write_op_assert_exists(op)
            cKeys.map { UnsafePointer($0) }.withUnsafeBufferPointer { k in
                rados_write_op_omap_rm_keys2(op, k.baseAddress, lengths, keys.count)
            }
        }
    }

    /// Removes `object`; a missing one is fine.
    public static func remove(_ object: String, in ioctx: rados_ioctx_t) throws(CephAccessError) {
        let result = rados_remove(ioctx, object)
        guard result == 0 || result == -ENOENT else { throw .callFailed(operation: "remove object \(object)", errno: -result) }
    }

    /// Runs one write operation; returns 0 or the (positive) errno listed in `allow`.
    private static func write(
        _ object: String, in ioctx: rados_ioctx_t, operation: String, allow: [Int32], _ build: (rados_write_op_t) -> Void
    ) throws(CephAccessError) -> Int32 {
        guard let op = rados_create_write_op() else { throw .callFailed(operation: operation, errno: ENOMEM) }
        defer { rados_release_write_op(op) }
        build(op)
        let result = rados_write_op_operate2(op, ioctx, object, nil, 0)
        if result == 0 { return 0 }
        if allow.contains(-result) { return -result }
        throw .callFailed(operation: operation, errno: -result)
    }
}
