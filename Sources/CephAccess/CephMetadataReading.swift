import CLibCeph

/// What the node reads from a cluster's metadata (never its data): journal entries, image
/// status and image metadata (which it also writes: the encryption state). A protocol so the
/// services can run against fakes in unit tests.
public protocol CephMetadataReading: Sendable {
    /// The journal entry of the volume `volumeID` (decoded as `id`), in `radosNamespace`.
    func journalEntry(of id: CSIVolumeID, volumeID: String, radosNamespace: String, access: ClusterAccess) async throws -> JournalEntry
    /// The status of an image: size, id and watchers.
    func imageStatus(_ spec: ImageSpec, access: ClusterAccess) async throws -> ImageStatus
    /// The addresses of the clients watching an image (one per client that maps it); a
    /// missing image is `CephAccessError.imageNotFound`.
    func imageWatchers(_ spec: ImageSpec, access: ClusterAccess) async throws -> [String]
    /// The values of those image-metadata `keys` the image has.
    func imageMetadata(_ spec: ImageSpec, keys: [String], access: ClusterAccess) async throws -> [String: String]
    /// Sets image-metadata `key` to `value`.
    func setImageMetadata(_ spec: ImageSpec, key: String, value: String, access: ClusterAccess) async throws
}

/// Reads metadata through librados and librbd over pooled connections.
public struct RadosMetadataReader: CephMetadataReading {
    public let connections: RadosConnectionPool

    public init(connections: RadosConnectionPool) {
        self.connections = connections
    }

    public func journalEntry(of id: CSIVolumeID, volumeID: String, radosNamespace: String, access: ClusterAccess) async throws -> JournalEntry {
        try await connections.withConnection(to: access, operation: "read journal entry of volume \(volumeID)") { connection in
            let pool = try connection.poolName(id: id.poolID)
            let values = try connection.withIOContext(pool: pool, namespace: radosNamespace) { ioctx throws(CephAccessError) in
                try RadosOmap.values(of: id.journalObject, keys: JournalEntry.Key.all, in: ioctx)
            }
            return try JournalEntry(id: id, volumeID: volumeID, pool: pool, radosNamespace: radosNamespace, values: values)
        }
    }

    public func imageStatus(_ spec: ImageSpec, access: ClusterAccess) async throws -> ImageStatus {
        try await withImagePool(spec, access: access, operation: "read status of image \(spec)") { ioctx throws(CephAccessError) in
            try ImageStatus.read(spec, in: ioctx)
        }
    }

    public func imageWatchers(_ spec: ImageSpec, access: ClusterAccess) async throws -> [String] {
        try await withImagePool(spec, access: access, operation: "list watchers of image \(spec)") { ioctx throws(CephAccessError) in
            try ImageWatchers.read(spec, in: ioctx)
        }
    }

    public func imageMetadata(_ spec: ImageSpec, keys: [String], access: ClusterAccess) async throws -> [String: String] {
        try await withImagePool(spec, access: access, operation: "read metadata of image \(spec)") { ioctx throws(CephAccessError) in
            try ImageMetadataStore.values(of: keys, in: ioctx, spec: spec)
        }
    }

    public func setImageMetadata(_ spec: ImageSpec, key: String, value: String, access: ClusterAccess) async throws {
        try await withImagePool(spec, access: access, operation: "set metadata \(key) of image \(spec)") { ioctx throws(CephAccessError) in
            try ImageMetadataStore.set(key, to: value, in: ioctx, spec: spec)
        }
    }

    /// Runs the blocking `body` with an I/O context on the image's pool and namespace.
    private func withImagePool<R: Sendable>(
        _ spec: ImageSpec, access: ClusterAccess, operation: String,
        _ body: @escaping @Sendable (rados_ioctx_t) throws(CephAccessError) -> R
    ) async throws -> R {
        try await connections.withIOContext(pool: spec.pool, namespace: spec.radosNamespace, access: access, operation: operation, body)
    }
}
