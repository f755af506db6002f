import CLibCeph

#if canImport(Glibc)
import Glibc
#endif

/// What the controller reads of an image: size, id, features, creation time and parent.
public struct ImageDetails: Sendable, Hashable {
    public var size: UInt64
    public var imageID: String
    public var features: UInt64
    /// Creation time, seconds and nanoseconds since the epoch.
    public var createdSeconds: Int64
    public var createdNanoseconds: Int32
    public var parent: ImageParent?

    public init(size: UInt64, imageID: String, features: UInt64, createdSeconds: Int64, createdNanoseconds: Int32, parent: ImageParent?) {
        self.size = size
        self.imageID = imageID
        self.features = features
        self.createdSeconds = createdSeconds
        self.createdNanoseconds = createdNanoseconds
        self.parent = parent
    }

    public func has(feature: String) -> Bool { features & (RBDImages.featureBits[feature] ?? 0) != 0 }

    /// Opens the image read-only and reads its details. Blocks.
    public static func read(_ spec: ImageSpec, in ioctx: rados_ioctx_t) throws(CephAccessError) -> ImageDetails {
        try RBDImage.withOpen(spec, in: ioctx, readOnly: true) { handle throws(CephAccessError) in try read(handle, spec: "\(spec)") }
    }

    /// The size, id and feature bits of the open image (what ImageStatus reads too).
    static func basics(_ handle: rbd_image_t, spec: String) throws(CephAccessError) -> (size: UInt64, id: String, features: UInt64) {
        var info = rbd_image_info_t()
        let stat = rbd_stat(handle, &info, MemoryLayout<rbd_image_info_t>.size)
        guard stat == 0 else { throw .callFailed(operation: "stat image \(spec)", errno: -stat) }
        var idBuffer = [CChar](repeating: 0, count: 64)
        let idResult = rbd_get_id(handle, &idBuffer, idBuffer.count)
        guard idResult == 0 else { throw .callFailed(operation: "read id of image \(spec)", errno: -idResult) }
        var features: UInt64 = 0
        let featuresResult = rbd_get_features(handle, &features)
        guard featuresResult == 0 else { throw .callFailed(operation: "read features of image \(spec)", errno: -featuresResult) }
        return (info.size, String(nulTerminated: idBuffer), features)
    }

    static func read(_ handle: rbd_image_t, spec: String) throws(CephAccessError) -> ImageDetails {
        let (size, id, features) = try basics(handle, spec: spec)
        var created = timespec()
        let createdResult = rbd_get_create_timestamp(handle, &created)
        guard createdResult == 0 else { throw .callFailed(operation: "read creation time of image \(spec)", errno: -createdResult) }
        return ImageDetails(
            size: size, imageID: id, features: features,
            createdSeconds: Int64(created.tv_sec), createdNanoseconds: Int32(created.tv_nsec), parent: try ImageParent.read(handle, spec: spec)
        )
    }
}

/// A clone's parent: the image (possibly in the trash) and the snapshot it was cloned from.
public struct ImageParent: Sendable, Hashable {
    public var pool: String
    public var radosNamespace: String
    public var imageID: String
    public var imageName: String
    /// The parent image is in the trash (deleted while this clone lives).
    public var trashed: Bool
    public var snapshot: String

    public var spec: ImageSpec { ImageSpec(pool: pool, radosNamespace: radosNamespace, image: imageName) }

    /// The parent of the open image, or nil for an image with none.
    static func read(_ handle: rbd_image_t, spec: String) throws(CephAccessError) -> ImageParent? {
        var image = rbd_linked_image_spec_t()
        var snap = rbd_snap_spec_t()
        let result = rbd_get_parent(handle, &image, &snap)
        if result == -ENOENT { return nil }
        guard result == 0 else { throw .callFailed(operation: "read the parent of image \(spec)", errno: -result) }
        defer {
            rbd_linked_image_spec_cleanup(&image)
            rbd_snap_spec_cleanup(&snap)
        }
        func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String { pointer.map { String(cString: $0) } ?? "" }
        return ImageParent(
            pool: text(image.pool_name), radosNamespace: text(image.pool_namespace), imageID: text(image.image_id),
            imageName: text(image.image_name), trashed: image.trash, snapshot: text(snap.name)
        )
    }
}
