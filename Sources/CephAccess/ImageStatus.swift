import CLibCeph

#if canImport(Glibc)
import Glibc
#endif

/// What librbd says about an image: its size, id, features, and the clients watching it (a
/// mapped image has one watcher per client that maps it).
public struct ImageStatus: Sendable, Hashable {
    public var size: UInt64
    public var imageID: String
    /// Watcher addresses, e.g. `127.0.0.1:0/1234567`.
    public var watchers: [String]
    /// librbd's feature bits of the image.
    public var features: UInt64

    public init(size: UInt64, imageID: String, watchers: [String], features: UInt64 = 1) {
        self.size = size
        self.imageID = imageID
        self.watchers = watchers
        self.features = features
    }

    /// Opens the image read-only (which adds no watcher) and reads its status. Blocks.
    public static func read(_ spec: ImageSpec, in ioctx: rados_ioctx_t) throws(CephAccessError) -> ImageStatus {
        try RBDImage.withOpen(spec, in: ioctx, readOnly: true) { handle throws(CephAccessError) in
            let (size, id, features) = try ImageDetails.basics(handle, spec: "\(spec)")
            return ImageStatus(size: size, imageID: id, watchers: try watchers(of: handle, spec: spec), features: features)
        }
    }

    private static func watchers(of handle: rbd_image_t, spec: ImageSpec) throws(CephAccessError) -> [String] {
        var capacity = 8
        while true {
            var list = [rbd_image_watcher_t](repeating: rbd_image_watcher_t(), count: capacity)
            var count = capacity
            let result = rbd_watchers_list(handle, &list, &count)
            if result == -ERANGE, count > capacity {
                capacity = count
                continue
            }
            guard result == 0 else { throw .callFailed(operation: "list watchers of image \(spec)", errno: -result) }
            defer { rbd_watchers_list_cleanup(&list, count) }
            return list.prefix(count).map { $0.addr.map { String(cString: $0) } ?? "?" }
        }
    }
}
