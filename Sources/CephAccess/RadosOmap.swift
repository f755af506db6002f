import CLibCeph

#if canImport(Glibc)
import Glibc
#endif

/// Reads the omap (key/value map) of one RADOS object, the store of ceph-csi's journal.
public enum RadosOmap {
    /// The values of those `keys` that `object` holds, as text; nil when the object does not
    /// exist. Blocks (see `BlockingCall`).
    public static func values(of object: String, keys: [String], in ioctx: rados_ioctx_t) throws(CephAccessError) -> [String: String]? {
        try CephStringRule.text.check(object, as: "RADOS object name \(object.debugDescription)")
        guard let op = rados_create_read_op() else { throw .callFailed(operation: "rados_create_read_op", errno: ENOMEM) }
        defer { rados_release_read_op(op) }
        var iterator: rados_omap_iter_t?
        var actionResult: Int32 = 0
        // librados copies the keys, with their exact lengths, when the action is added.
        let cKeys = CStringArray(keys)
        cKeys.withPointers { pointers in
            rados_read_op_omap_get_vals_by_keys2(op, pointers, cKeys.count, cKeys.lengths, &iterator, &actionResult)
        }
        let result = rados_read_op_operate(op, ioctx, object, 0)
        if result == -ENOENT { return nil }
        guard result == 0 else { throw .callFailed(operation: "read omap of \(object)", errno: -result) }
        guard actionResult == 0 else { throw .callFailed(operation: "read omap values of \(object)", errno: -actionResult) }
        guard let iterator else { return [:] }
        defer { rados_omap_get_end(iterator) }
        var values: [String: String] = [:]
        while true {
            var key: UnsafeMutablePointer<CChar>?
            var value: UnsafeMutablePointer<CChar>?
            var keyLength = 0
            var valueLength = 0
            let next = rados_omap_get_next2(iterator, &key, &value, &keyLength, &valueLength)
            guard next == 0 else { throw .callFailed(operation: "iterate omap of \(object)", errno: -next) }
            guard let key else { break }
            let name = String(decoding: UnsafeRawBufferPointer(start: key, count: keyLength), as: UTF8.self)
            values[name] = value.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: valueLength), as: UTF8.self) } ?? ""
        }
        return values
    }
}
