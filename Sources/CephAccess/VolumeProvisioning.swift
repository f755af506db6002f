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
    /// The entry of `uuid` in `journal` (nil when its object is missing).
    func entry(uuid: String, at location: PoolLocation, journal: VolumeJournal, access: ClusterAccess) async throws -> [String: String]?
    func reserve(
        _ requestName: String, at location: PoolLocation, journal: VolumeJournal, imagePrefix: String,
        values: [String: String], uuid: String?, access: ClusterAccess
    ) async throws -> String
    /// Removes a reservation found by its name (a create undone or repaired): `VolumeJournal.undo`.
    func undoReservation(uuid: String, requestName: String?, at location: PoolLocation, journal: VolumeJournal, access: ClusterAccess) async throws
    /// Removes the reservation of a volume or snapshot being deleted, found by its id:
    /// `VolumeJournal.release`.
    func releaseReservation(uuid: String, requestName: String?, at location: PoolLocation, journal: VolumeJournal, access: ClusterAccess) async throws
    func setEntryValues(_ values: [String: String], uuid: String, at location: PoolLocation, journal: VolumeJournal, access: ClusterAccess) async throws
    /// Creates the image; one that exists already is `imageExists` and stays as it is.
    func createImage(_ spec: ImageSpec, size: UInt64, features: [String]?, dataPool: String?, layout: ImageLayout, access: ClusterAccess) async throws
    func growImage(_ spec: ImageSpec, to size: UInt64, access: ClusterAccess) async throws
    /// Trashes and removes the image; a missing one (or its leftover trash entry) is fine. One
    /// whose snapshots clones still use stays in the trash until its last clone is removed.
    func removeImage(_ spec: ImageSpec, access: ClusterAccess) async throws
    func imageDetails(_ spec: ImageSpec, access: ClusterAccess) async throws -> ImageDetails
    /// Creates snapshot `snapshot` of the image (an existing one is fine).
    func createSnapshot(of spec: ImageSpec, named snapshot: String, access: ClusterAccess) async throws
    /// Removes the snapshot (a missing image or snapshot is fine).
    func removeSnapshot(of spec: ImageSpec, named snapshot: String, access: ClusterAccess) async throws
    /// Snapshots of the image in every namespace.
    func snapshotCount(of spec: ImageSpec, access: ClusterAccess) async throws -> Int
    /// Clones `parent@snapshot` to `child` (clone format 2; an existing child is fine).
    func cloneImage(_ parent: ImageSpec, snapshot: String, to child: ImageSpec, features: [String]?, dataPool: String?, access: ClusterAccess) async throws
    /// Parent links from the image to the top of its chain, trashed parents included.
    func cloneDepth(of spec: ImageSpec, access: ClusterAccess) async throws -> Int
    /// Flattens the image: queued with the manager where it can (`wait` false), else now.
    /// With `wait` false and no manager, nothing is done and nil comes back.
    func flatten(_ spec: ImageSpec, wait: Bool, access: ClusterAccess) async throws -> FlattenOutcome?
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

    public func entry(uuid: String, at location: PoolLocation, journal: VolumeJournal, access: ClusterAccess) async throws -> [String: String]? {
        try await at(location, access, "read journal entry \(uuid)") { ioctx throws(CephAccessError) in
            try journal.entry(uuid: uuid, in: ioctx)
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

    public func releaseReservation(uuid: String, requestName: String?, at location: PoolLocation, journal: VolumeJournal, access: ClusterAccess) async throws {
        try await at(location, access, "release the reservation \(uuid)") { ioctx throws(CephAccessError) in
            try journal.release(uuid: uuid, requestName: requestName, in: ioctx)
        }
    }

    public func setEntryValues(_ values: [String: String], uuid: String, at location: PoolLocation, journal: VolumeJournal, access: ClusterAccess) async throws {
        try await at(location, access, "update journal entry \(uuid)") { ioctx throws(CephAccessError) in
            try RadosObjects.setValues(values, of: journal.entryObject(uuid), in: ioctx)
        }
    }

    public func createImage(_ spec: ImageSpec, size: UInt64, features: [String]?, dataPool: String?, layout: ImageLayout, access: ClusterAccess) async throws {
        try await at(PoolLocation(pool: spec.pool, radosNamespace: spec.radosNamespace), access, "create image \(spec)") { ioctx throws(CephAccessError) in
            try RBDImages.create(spec, size: size, features: features, dataPool: dataPool, layout: layout, in: ioctx)
        }
    }

    public func growImage(_ spec: ImageSpec, to size: UInt64, access: ClusterAccess) async throws {
        try await at(PoolLocation(pool: spec.pool, radosNamespace: spec.radosNamespace), access, "resize image \(spec)") { ioctx throws(CephAccessError) in
            try RBDImages.grow(spec, to: size, in: ioctx)
        }
    }

    public func removeImage(_ spec: ImageSpec, access: ClusterAccess) async throws {
        try await connections.withConnection(to: access, operation: "remove image \(spec)") { try RBDImages.remove(spec, on: $0) }
    }

    public func imageDetails(_ spec: ImageSpec, access: ClusterAccess) async throws -> ImageDetails {
        try await at(spec, access, "read image \(spec)") { ioctx throws(CephAccessError) in try ImageDetails.read(spec, in: ioctx) }
    }

    public func createSnapshot(of spec: ImageSpec, named snapshot: String, access: ClusterAccess) async throws {
        try await at(spec, access, "create snapshot \(spec)@\(snapshot)") { ioctx throws(CephAccessError) in
            try RBDSnapshots.create(spec, snapshot: snapshot, in: ioctx)
        }
    }

    public func removeSnapshot(of spec: ImageSpec, named snapshot: String, access: ClusterAccess) async throws {
        try await at(spec, access, "remove snapshot \(spec)@\(snapshot)") { ioctx throws(CephAccessError) in
            try RBDSnapshots.remove(spec, snapshot: snapshot, in: ioctx)
        }
    }

    public func snapshotCount(of spec: ImageSpec, access: ClusterAccess) async throws -> Int {
        try await at(spec, access, "count snapshots of \(spec)") { ioctx throws(CephAccessError) in try RBDSnapshots.count(spec, in: ioctx) }
    }

    public func cloneImage(_ parent: ImageSpec, snapshot: String, to child: ImageSpec, features: [String]?, dataPool: String?, access: ClusterAccess) async throws {
        try await connections.withConnection(to: access, operation: "clone \(parent)@\(snapshot) to \(child)") { connection in
            try connection.withIOContext(pool: parent.pool, namespace: parent.radosNamespace) { parentIoctx throws(CephAccessError) in
                try connection.withIOContext(pool: child.pool, namespace: child.radosNamespace) { childIoctx throws(CephAccessError) in
                    try RBDSnapshots.clone(parent, snapshot: snapshot, parentIn: parentIoctx, to: child, childIn: childIoctx, features: features, dataPool: dataPool)
                }
            }
        }
    }

    public func cloneDepth(of spec: ImageSpec, access: ClusterAccess) async throws -> Int {
        try await connections.withConnection(to: access, operation: "read the parents of \(spec)") { try ImageLineage.depth(of: spec, on: $0) }
    }

    public func flatten(_ spec: ImageSpec, wait: Bool, access: ClusterAccess) async throws -> FlattenOutcome? {
        try await connections.withConnection(to: access, operation: "flatten \(spec)") { connection in
            if !wait, let queued = try ImageFlattening.queue(spec, on: connection) { return queued }
            guard wait else { return nil }
            return try connection.withIOContext(pool: spec.pool, namespace: spec.radosNamespace) { ioctx throws(CephAccessError) in
                try ImageFlattening.flattenNow(spec, in: ioctx)
            }
        }
    }

    private func at<R: Sendable>(
        _ spec: ImageSpec, _ access: ClusterAccess, _ operation: String,
        _ body: @escaping @Sendable (rados_ioctx_t) throws(CephAccessError) -> R
    ) async throws -> R {
        try await at(PoolLocation(pool: spec.pool, radosNamespace: spec.radosNamespace), access, operation, body)
    }

    private func at<R: Sendable>(
        _ location: PoolLocation, _ access: ClusterAccess, _ operation: String,
        _ body: @escaping @Sendable (rados_ioctx_t) throws(CephAccessError) -> R
    ) async throws -> R {
        try await connections.withIOContext(pool: location.pool, namespace: location.radosNamespace, access: access, operation: operation, body)
    }
}
