import CLibCeph

#if canImport(Glibc)
import Glibc
#endif

/// Reads and writes an image's key/value metadata (`rbd image-meta`), where ceph-csi keeps
/// the encryption state and the metadata KMS's encrypted key. Blocks (see `BlockingCall`).
public enum ImageMetadataStore {
    /// The values of those `keys` the image has.
    public static func values(of keys: [String], in ioctx: rados_ioctx_t, spec: ImageSpec) throws(CephAccessError) -> [String: String] {
        try RBDImage.withOpen(spec, in: ioctx, readOnly: true) { handle throws(CephAccessError) in
            var values: [String: String] = [:]
            for key in keys {
                var buffer = [CChar](repeating: 0, count: 4096)
                var length = buffer.count
                var result = rbd_metadata_get(handle, key, &buffer, &length)
                if result == -ERANGE {
                    buffer = [CChar](repeating: 0, count: length)
                    result = rbd_metadata_get(handle, key, &buffer, &length)
                }
                if result == -ENOENT { continue }
                guard result == 0 else { throw .callFailed(operation: "read metadata \(key) of image \(spec)", errno: -result) }
                values[key] = String(nulTerminated: buffer)
            }
            return values
        }
    }

    /// Sets `key` to `value` on the image (opened read-write for it).
    public static func set(_ key: String, to value: String, in ioctx: rados_ioctx_t, spec: ImageSpec) throws(CephAccessError) {
        try RBDImage.withOpen(spec, in: ioctx, readOnly: false) { handle throws(CephAccessError) in
            let result = rbd_metadata_set(handle, key, value)
            guard result == 0 else { throw .callFailed(operation: "set metadata \(key) of image \(spec)", errno: -result) }
        }
    }
}
