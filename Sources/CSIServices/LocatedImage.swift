import CephAccess

/// A volume or snapshot id resolved to its cluster, pool and journal entry.
struct LocatedImage {
    /// The CSI id that was resolved (the salt of a sealed encryption key).
    var id: String
    var clusterID: String
    var poolID: Int64
    var access: ClusterAccess
    var location: PoolLocation
    var reservation: VolumeJournal.Reservation
    /// The image: `csi-vol-<uuid>` or `csi-snap-<uuid>` unless the entry names another.
    var spec: ImageSpec { location.image(reservation.imageName) }
    var requestName: String? { reservation.requestName }
    /// Encrypted volumes (and their snapshots) carry their KMS id in the entry.
    var encrypted: Bool { reservation.value(JournalEntry.Key.kmsID) != nil }

    /// Resolves `id` through `journal`; nil when the id names nothing that exists (an
    /// undecodable id, an unknown cluster, a deleted pool). The entry may still be missing.
    static func locate(_ id: String, credentials: CephCredentials, journal: VolumeJournal, host: ControllerHost) async throws -> LocatedImage? {
        guard let decoded = try? CSIVolumeID(decoding: id) else { return nil }
        let access: ClusterAccess
        let radosNamespace: String
        do {
            (access, radosNamespace) = try await host.access(decoded.clusterID, credentials: credentials)
        } catch CephAccessError.unknownCluster {
            return nil
        }
        let pool: String
        do {
            pool = try await host.provisioner.poolName(id: decoded.poolID, access: access)
        } catch CephAccessError.poolNotFound {
            return nil
        }
        let location = PoolLocation(pool: pool, radosNamespace: radosNamespace)
        let values = try await host.provisioner.entry(uuid: decoded.objectUUID, at: location, journal: journal, access: access)
        return LocatedImage(
            id: id, clusterID: decoded.clusterID, poolID: decoded.poolID, access: access, location: location,
            reservation: VolumeJournal.Reservation(uuid: decoded.objectUUID, values: values, kind: journal.kind)
        )
    }
}
