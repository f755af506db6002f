import CephAccess
import FoundationEssentials
import HostOperations

/// `image-meta.json` in the staging path: what unstage needs to undo a stage, written before
/// the image is mapped. Field names are ceph-csi's, so either plugin can unstage the other's
/// volumes; `mounter` is ours (ceph-csi ignores it) and names the rbd-fuse mapper.
public struct ImageMetadataStash: Codable, Sendable, Hashable {
    public static let fileName = "image-meta.json"

    public var version: Int = 3
    public var pool: String
    public var radosNamespace: String = ""
    public var image: String
    public var unmapOptions: String = ""
    /// true when mapped with rbd-nbd.
    public var nbdAccess: Bool = false
    public var encrypted: Bool = false
    public var device: String = ""
    public var logDir: String = ""
    public var logFileStrategy: String = ""
    public var mounter: String?
    /// Ours too (ceph-csi ignores it): the volume that wrote the stash, so that a staging
    /// path holding another volume's stash is refused and never unmapped by the wrong unstage.
    public var volumeID: String?

    enum CodingKeys: String, CodingKey {
        case version = "Version"
        case pool, radosNamespace, image, unmapOptions
        case nbdAccess = "accessType"
        case encrypted, device, logDir, logFileStrategy, mounter, volumeID
    }

    /// `unmapOptions` are the stash's mounter's own (`force`), as ceph-csi stores them: already
    /// selected from the volume context's `krbd:…;nbd:…`.
    public init(spec: ImageSpec, mapper: MapperKind, unmapOptions: String) {
        pool = spec.pool
        radosNamespace = spec.radosNamespace
        image = spec.image
        self.unmapOptions = unmapOptions
        nbdAccess = mapper == .nbd
        mounter = mapper == .fuse ? mapper.rawValue : nil
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decodeIfPresent(Int.self, forKey: .version) ?? 1
        pool = try c.decode(String.self, forKey: .pool)
        radosNamespace = try c.decodeIfPresent(String.self, forKey: .radosNamespace) ?? ""
        image = try c.decode(String.self, forKey: .image)
        unmapOptions = try c.decodeIfPresent(String.self, forKey: .unmapOptions) ?? ""
        nbdAccess = try c.decodeIfPresent(Bool.self, forKey: .nbdAccess) ?? false
        encrypted = try c.decodeIfPresent(Bool.self, forKey: .encrypted) ?? false
        device = try c.decodeIfPresent(String.self, forKey: .device) ?? ""
        logDir = try c.decodeIfPresent(String.self, forKey: .logDir) ?? ""
        logFileStrategy = try c.decodeIfPresent(String.self, forKey: .logFileStrategy) ?? ""
        mounter = try c.decodeIfPresent(String.self, forKey: .mounter)
        volumeID = try c.decodeIfPresent(String.self, forKey: .volumeID)
    }

    /// Whether the stash may be volume `volumeID`'s: it names that volume, or (written by
    /// ceph-csi, which records no volume id) it names no volume at all.
    public func mayBelong(to volumeID: String) -> Bool {
        self.volumeID.map { $0 == volumeID } ?? true
    }

    public var spec: ImageSpec { ImageSpec(pool: pool, radosNamespace: radosNamespace, image: image) }

    /// The unmap options for the stash's mapper. ceph-csi stores them selected and plain
    /// (`force`); stashes of rbdcsi before this version held the context's whole
    /// `krbd:…;nbd:…` text, which is still understood.
    public var mapperUnmapOptions: [String] {
        if unmapOptions.contains(";") || unmapOptions.contains(":") {
            return ((try? MapOptions(parsing: unmapOptions)) ?? MapOptions()).options(for: mapper)
        }
        return unmapOptions.split(separator: ",").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
    }

    public var mapper: MapperKind {
        if nbdAccess { return .nbd }
        return mounter.flatMap(MapperKind.init(rawValue:)) ?? .krbd
    }

    static func path(in stagingPath: String) -> String { "\(stagingPath)/\(fileName)" }

    /// Writes the stash (mode 0600) into `stagingPath` on the blocking executor: its fsync
    /// waits for the disk, which must not hold a thread of the cooperative pool.
    public func store(in stagingPath: String) async throws {
        try await BlockingExecutor.shared.run("write the image stash in \(stagingPath)", limit: .seconds(30)) {
            try write(to: stagingPath)
        }
    }

    /// Writes the stash (mode 0600) into `stagingPath`; blocks on fsync (see `store(in:)`).
    public func write(to stagingPath: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = String(decoding: try encoder.encode(self), as: UTF8.self)
        try FileText.write(text, to: Self.path(in: stagingPath), mode: 0o600)
    }

    /// The stash in `stagingPath`, or nil when there is none.
    public static func read(from stagingPath: String) throws -> ImageMetadataStash? {
        let path = path(in: stagingPath)
        let text: String
        do {
            text = try FileText.read(path, followLinks: false)
        } catch let error as HostError where error.isNotFound {
            return nil
        }
        do {
            return try JSONDecoder().decode(ImageMetadataStash.self, from: Data(text.utf8))
        } catch {
            throw CSIError.internalError("failed to parse stashed image metadata \(path): \(error)")
        }
    }

    public static func remove(from stagingPath: String) throws {
        try HostPaths.remove(path(in: stagingPath))
    }
}
