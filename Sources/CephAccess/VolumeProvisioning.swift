import CLibCeph

/// A pool and RADOS namespace: where a volume's journal entry and image live.
public struct PoolLocation: Sendable, Hashable {
    public var pool: String
    public var radosNamespace: String

    public init(pool: String, radosNamespace: String) {
        self.pool = pool
        self.radosNamespace = radosNamespace
    }

    public func image(_ name: String) -> ImageSpec { ImageSpec(pool: pool, radosNamespace: radosNamespace, image: name) }
}

/// What the controller changes in a cluster: journal reservations and images. A protocol so
/// the services can run against fakes; the real one goes through librados and librbd, each
/// call bounded by the connection pool's limit.
public protocol VolumeProvisioning: Sendable {
    func poolID(_ pool: String, access: ClusterAccess) async throws -> Int64
    func poolName(id: Int64, access: ClusterAccess) async throws -> String
    func reservation(of requestName: String, at location: PoolLocation, journal: VolumeJournal, access: ClusterAccess) async throws -> VolumeJournal.Reservation?
    /// The entry of `uuid` (nil when its object is missing).
    func entry(uuid: String, at location: PoolLocation, access: ClusterAccess) async throws -> [String: String]?
    func reserve(
        _ requestName: String, at location: PoolLocation, journal: VolumeJournal, imagePrefix: String,
        values: [String: String], uuid: String?, access: ClusterAccess
    ) async throws -> String
    func undoReservation(uuid: String, requestName: String?, at location: PoolLocation, journal: VolumeJournal, access: ClusterAccess) async throws
    func setEntryValues(_ values: [String: String], uuid: String, at location: PoolLocation, access: ClusterAccess) async throws
    func createImage(_ spec: ImageSpec, size: UInt64, features: [String]?, dataPool: String?, access: ClusterAccess) async throws
    func growImage(_ spec: ImageSpec, to size: UInt64, access: ClusterAccess) async throws
    /// Trashes and removes the image; a missing one (or its leftover trash entry) is fine.
    func removeImage(_ spec: ImageSpec, access: ClusterAccess) async throws
}

/// `VolumeProvisioning` through librados and librbd over pooled connections.
public struct RadosVolumeProvisioner: VolumeProvisioning {
    public let connections: RadosConnectionPool

    public init(connections: RadosConnectionPool) {
        self.connections = connections
    }

    public func poolID(_ pool: String, access: ClusterAccess) async throws -> Int64 {
        try await connections.withConnection(to: access, operation: "look up pool \(pool)") { try $0.poolID(named: pool) }
    }

    public func poolName(id: Int64, access: ClusterAccess) async throws -> String {
        try await connections.withConnection(to: access, operation: "look up pool id \(id)") { try $0.poolName(id: id) }
    }

    public func reservation(of requestName: String, at location: PoolLocation, journal: VolumeJournal, access: ClusterAccess) async throws -> VolumeJournal.Reservation? {
        try await at(location, access, "look up the reservation of \(requestName)") { ioctx throws(CephAccessError) in
            try journal.reservation(of: requestName, in: ioctx)
        }
    }

    public func entry(uuid: String, at location: PoolLocation, access: ClusterAccess) async throws -> [String: String]? {
        try await at(location, access, "read journal entry \(uuid)") { ioctx throws(CephAccessError) in
            try RadosOmap.values(of: VolumeJournal.entryObject(uuid), keys: JournalEntry.Key.all, in: ioctx)
        }
    }

    public func reserve(
        _ requestName: String, at location: PoolLocation, journal: VolumeJournal, imagePrefix: String,
        values: [String: String], uuid: String?, access: ClusterAccess
    ) async throws -> String {
        try await at(location, access, "reserve \(requestName)") { ioctx throws(CephAccessError) in
            try journal.reserve(requestName, imagePrefix: imagePrefix, values: values, uuid: uuid, in: ioctx)
        }
    }

    public func undoReservation(uuid: String, requestName: String?, at location: PoolLocation, journal: VolumeJournal, access: ClusterAccess) async throws {
        try await at(location, access, "undo the reservation \(uuid)") { ioctx throws(CephAccessError) in
            try journal.undo(uuid: uuid, requestName: requestName, in: ioctx)
        }
    }

    public func setEntryValues(_ values: [String: String], uuid: String, at location: PoolLocation, access: ClusterAccess) async throws {
        try await at(location, access, "update journal entry \(uuid)") { ioctx throws(CephAccessError) in
            try RadosObjects.setValues(values, of: VolumeJournal.entryObject(uuid), in: ioctx)
        }
    }

    public func createImage(_ spec: ImageSpec, size: UInt64, features: [String]?, dataPool: String?, access: ClusterAccess) async throws {
        try await at(PoolLocation(pool: spec.pool, radosNamespace: spec.radosNamespace), access, "create image \(spec)") { ioctx throws(CephAccessError) in
            try RBDImages.create(spec, size: size, features: features, dataPool: dataPool, in: ioctx)
        }
    }

    public func growImage(_ spec: ImageSpec, to size: UInt64, access: ClusterAccess) async throws {
        try await at(PoolLocation(pool: spec.pool, radosNamespace: spec.radosNamespace), access, "resize image \(spec)") { ioctx throws(CephAccessError) in
            try RBDImages.grow(spec, to: size, in: ioctx)
        }
    }

    public func removeImage(_ spec: ImageSpec, access: ClusterAccess) async throws {
        try await at(PoolLocation(pool: spec.pool, radosNamespace: spec.radosNamespace), access, "remove image \(spec)") { ioctx throws(CephAccessError) in
            try RBDImages.remove(spec, in: ioctx)
        }
    }

    private func at<R: Sendable>(
        _ location: PoolLocation, _ access: ClusterAccess, _ operation: String,
        _ body: @escaping @Sendable (rados_ioctx_t) throws(CephAccessError) -> R
    ) async throws -> R {
        try await connections.withIOContext(pool: location.pool, namespace: location.radosNamespace, access: access, operation: operation, body)
    }
}
