import CLibCeph

#if canImport(Glibc)
import Glibc
#endif

/// Writes to RADOS objects and their omaps: the journal's side of the controller. Each call
/// blocks (run it inside `RadosConnectionPool.withConnection`).
public enum RadosObjects {
    /// Sets omap `values` of `object` (creating it if needed). Keys and values go with their
    /// exact bytes and lengths.
    public static func setValues(_ values: [String: String], of object: String, in ioctx: rados_ioctx_t) throws(CephAccessError) {
        _ = try write(object, in: ioctx, operation: "set omap of \(object)", allow: []) { op in
            setValues(values, in: op)
        }
    }

    /// Creates `object` with omap `values` in one write operation, so that it never exists
    /// without them; false (and nothing written) when it exists already.
    public static func createExclusive(_ object: String, values: [String: String], in ioctx: rados_ioctx_t) throws(CephAccessError) -> Bool {
        try write(object, in: ioctx, operation: "create object \(object)", allow: [EEXIST]) { op in
            rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, nil)
            setValues(values, in: op)
        } != EEXIST
    }

    /// Adds the setting of `values` to `op`; librados copies them when the action is added.
    private static func setValues(_ values: [String: String], in op: rados_write_op_t) {
        let pairs = values.sorted { $0.key < $1.key }
        let keys = CStringArray(pairs.map(\.key))
        let texts = CStringArray(pairs.map(\.value))
        keys.withPointers { k in
            texts.withPointers { v in
                rados_write_op_omap_set2(op, k, v, keys.lengths, texts.lengths, pairs.count)
            }
        }
    }

    /// Removes omap `keys` of `object`; a missing object or key is fine.
    public static func removeKeys(_ keys: [String], of object: String, in ioctx: rados_ioctx_t) throws(CephAccessError) {
        let cKeys = CStringArray(keys)
        _ = try write(object, in: ioctx, operation: "remove omap keys of \(object)", allow: [ENOENT]) { op in
            rados_write_op_assert_exists(op)
            cKeys.withPointers { rados_write_op_omap_rm_keys2(op, $0, cKeys.lengths, cKeys.count) }
        }
    }

    /// Removes omap `key` of `object` only while it holds exactly `value`, in one write: a key
    /// that has since been given to another reservation is left alone. A missing object, a
    /// missing key and another value are all fine (nothing is removed); whether it was removed.
    @discardableResult
    public static func removeKey(_ key: String, ifValue value: String, of object: String, in ioctx: rados_ioctx_t) throws(CephAccessError) -> Bool {
        let pair = CStringArray([key, value])
        return try write(object, in: ioctx, operation: "remove omap key \(key) of \(object)", allow: [ENOENT, ECANCELED]) { op in
            rados_write_op_assert_exists(op)
            pair.withPointers { strings in
                rados_write_op_omap_cmp2(op, strings![0], UInt8(LIBRADOS_CMPXATTR_OP_EQ), strings![1], pair.lengths[0], pair.lengths[1], nil)
                rados_write_op_omap_rm_keys2(op, strings, [pair.lengths[0]], 1)
            }
        } == 0
    }

    /// Removes `object`; a missing one is fine.
    public static func remove(_ object: String, in ioctx: rados_ioctx_t) throws(CephAccessError) {
        try CephStringRule.text.check(object, as: "RADOS object name \(object.debugDescription)")
        let result = rados_remove(ioctx, object)
        guard result == 0 || result == -ENOENT else { throw .callFailed(operation: "remove object \(object)", errno: -result) }
    }

    /// Runs one write operation; returns 0 or the (positive) errno listed in `allow`.
    private static func write(
        _ object: String, in ioctx: rados_ioctx_t, operation: String, allow: [Int32], _ build: (rados_write_op_t) -> Void
    ) throws(CephAccessError) -> Int32 {
        try CephStringRule.text.check(object, as: "RADOS object name \(object.debugDescription)")
        guard let op = rados_create_write_op() else { throw .callFailed(operation: operation, errno: ENOMEM) }
        defer { rados_release_write_op(op) }
        build(op)
        let result = rados_write_op_operate2(op, ioctx, object, nil, 0)
        if result == 0 { return 0 }
        if allow.contains(-result) { return -result }
        throw .callFailed(operation: operation, errno: -result)
    }
}
