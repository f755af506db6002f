import CLibCeph

#if canImport(Glibc)
import Glibc
#endif

/// An RBD image opened through librbd for the length of one blocking call.
enum RBDImage {
    /// Runs `body` with the image of `spec` open; read-only opens add no watcher. A missing
    /// image is `imageNotFound`.
    static func withOpen<R>(
        _ spec: ImageSpec, in ioctx: rados_ioctx_t, readOnly: Bool, _ body: (rbd_image_t) throws(CephAccessError) -> R
    ) throws(CephAccessError) -> R {
        try spec.check()
        var handle: rbd_image_t?
        let opened = readOnly ? rbd_open_read_only(ioctx, spec.image, &handle, nil) : rbd_open(ioctx, spec.image, &handle, nil)
        if opened == -ENOENT { throw .imageNotFound(spec) }
        guard opened == 0, let handle else { throw .callFailed(operation: "open image \(spec)", errno: -opened) }
        defer { rbd_close(handle) }
        return try body(handle)
    }
}

extension String {
    /// The text of a NUL-terminated C buffer filled by librados/librbd.
    init(nulTerminated buffer: [CChar]) {
        self.init(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
