import CCephLoader
import CLibCeph

#if canImport(Glibc)
import Glibc
#endif

/// The clients watching an image (a mapped image has one watcher per client that maps it),
/// read in two round trips: the image's id from its `rbd_id.<name>` object, then the
/// watchers of its `rbd_header.<id>` object. librbd lists them only after opening the image,
/// which costs about ten round trips (8 ms on a loaded node), on every stage.
enum ImageWatchers {
    /// The watcher addresses of the image of `spec`. Whatever the direct path cannot answer
    /// (an old-format image without an id object, a missing image, a librados without the
    /// C++ call) is answered through librbd, which also tells a missing image apart. Blocks.
    static func read(_ spec: ImageSpec, in ioctx: rados_ioctx_t) throws(CephAccessError) -> [String] {
        if let watchers = try direct(spec, in: ioctx) { return watchers }
        return try ImageStatus.read(spec, in: ioctx).watchers
    }

    /// The watcher addresses read from the header object, or nil when this path cannot tell.
    static func direct(_ spec: ImageSpec, in ioctx: rados_ioctx_t) throws(CephAccessError) -> [String]? {
        guard let id = try imageID(spec, in: ioctx) else { return nil }
        return try headerWatchers("rbd_header.\(id)", spec: spec, in: ioctx)
    }

    /// The id in `rbd_id.<name>` (a Ceph-encoded string: a little-endian 32-bit length, then
    /// the bytes, as cls_rbd's `set_id` writes it), or nil when there is no such object or it
    /// holds something else.
    static func imageID(_ spec: ImageSpec, in ioctx: rados_ioctx_t) throws(CephAccessError) -> String? {
        var buffer = [CChar](repeating: 0, count: 4 + 256)
        let read = rados_read(ioctx, "rbd_id.\(spec.image)", &buffer, buffer.count, 0)
        if read == -ENOENT { return nil }
        guard read >= 0 else { throw .callFailed(operation: "read the id of image \(spec)", errno: -read) }
        let bytes = buffer.prefix(Int(read)).map { UInt8(bitPattern: $0) }
        guard bytes.count >= 4 else { return nil }
        let length = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
        guard length > 0, bytes.count == 4 + length else { return nil }
        let id = bytes.dropFirst(4)
        // Ids are lower-case hex; anything else is not an id this code should build a name from.
        guard id.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }) else {
            return nil
        }
        return String(decoding: id, as: UTF8.self)
    }

    /// The watchers of `object`, or nil when the object is gone (the image was just removed)
    /// or the installed librados lacks the call.
    private static func headerWatchers(_ object: String, spec: ImageSpec, in ioctx: rados_ioctx_t) throws(CephAccessError) -> [String]? {
        var capacity = 8
        while true {
            var list = [rbdcsi_object_watcher](repeating: rbdcsi_object_watcher(), count: capacity)
            var count = capacity
            let result = rbdcsi_rados_list_watchers(ioctx, object, &list, &count)
            if result == -ERANGE, count > capacity {
                capacity = count
                continue
            }
            if result == -ENOENT || result == -ENOSYS { return nil }
            guard result == 0 else { throw .callFailed(operation: "list watchers of image \(spec)", errno: -result) }
            return list.prefix(count).map { watcher in
                withUnsafeBytes(of: watcher.address) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            }
        }
    }
}
