@testable import CephAccess
import Foundation
import Synchronization

@testable import CSIServices

/// The controller's Ceph seam as an in-memory cluster: journals, images with their snapshots
/// and parents, and the trash. Steps can be made to fail, or to wait until a test lets them
/// go; like the real executor, a step whose caller is cancelled before it starts is not run.
final class FakeCeph: VolumeProvisioning, CephMetadataReading, ClusterLookup, Sendable {
    struct Image: Hashable {
        var id: String
        var size: UInt64
        var snapshots: Set<String> = []
        /// `(image, snapshot)` it was cloned from.
        var parent: ImageSpec?
        var parentSnapshot: String?
    }

    struct State {
        /// Omaps by object name (journal directories and entries).
        var omaps: [String: [String: String]] = [:]
        var images: [ImageSpec: Image] = [:]
        /// Failures to throw, by step name, once each.
        var failures: [String: [any Error]] = [:]
        /// Steps that land and then report a timeout (the call went on past its limit).
        var landThenTimeOut: Set<String> = []
        var steps: [String] = []
        var nextID = 1
    }

    let state = Mutex(State())
    static let poolID: Int64 = 7
    static let clusterID = "fake"

    func fail(_ step: String, with error: any Error) { state.withLock { $0.failures[step, default: []].append(error) } }
    func landThenTimeOut(_ step: String) { _ = state.withLock { $0.landThenTimeOut.insert(step) } }
    var images: [ImageSpec: Image] { state.withLock { $0.images } }
    var omaps: [String: [String: String]] { state.withLock { $0.omaps.filter { !$0.value.isEmpty } } }
    var steps: [String] { state.withLock { $0.steps } }

    /// Runs one step: not started for a cancelled caller; a programmed failure; else `body`.
    private func step<R>(_ name: String, _ body: (inout State) throws -> R) async throws -> R {
        try Task.checkCancellation()
        await Task.yield()
        return try state.withLock { state in
            state.steps.append(name)
            if var queued = state.failures[name], !queued.isEmpty {
                let error = queued.removeFirst()
                state.failures[name] = queued
                throw error
            }
            let result = try body(&state)
            if state.landThenTimeOut.remove(name) != nil { throw CephAccessError.timedOut(operation: name, limit: .seconds(10)) }
            return result
        }
    }

    // MARK: ClusterLookup

    func cluster(_ clusterID: String) throws -> ClusterConfig.Cluster {
        guard clusterID == Self.clusterID else { throw CephAccessError.unknownCluster(clusterID, configFile: "fake") }
        return try JSONDecoder().decode(ClusterConfig.Cluster.self, from: Data(#"{"clusterID": "fake", "monitors": ["fake-monitor"]}"#.utf8))
    }

    // MARK: VolumeProvisioning

    func poolID(_ pool: String, access: ClusterAccess) async throws -> Int64 {
        guard pool == "rbd" else { throw CephAccessError.poolNamedNotFound(pool) }
        return Self.poolID
    }

    func poolName(id: Int64, access: ClusterAccess) async throws -> String {
        guard id == Self.poolID else { throw CephAccessError.poolNotFound(id: id) }
        return "rbd"
    }

    func reservation(of requestName: String, at location: PoolLocation, journal: VolumeJournal, access: ClusterAccess) async throws -> VolumeJournal.Reservation? {
        try await step("reservation") { state in
            guard let uuid = state.omaps[journal.directoryObject]?[journal.directoryKey(requestName)] else { return nil }
            return VolumeJournal.Reservation(uuid: uuid, values: state.omaps[journal.entryObject(uuid)], kind: journal.kind)
        }
    }

    func entry(uuid: String, at location: PoolLocation, journal: VolumeJournal, access: ClusterAccess) async throws -> [String: String]? {
        try await step("entry") { $0.omaps[journal.entryObject(uuid)] }
    }

    func reserve(
        _ requestName: String, at location: PoolLocation, journal: VolumeJournal, imagePrefix: String,
        values: [String: String], uuid: String?, access: ClusterAccess
    ) async throws -> String {
        try await step("reserve") { state in
            let uuid = uuid ?? UUID().uuidString.lowercased()
            state.omaps[journal.directoryObject, default: [:]][journal.directoryKey(requestName)] = uuid
            var entry = values
            entry[journal.requestNameKey] = requestName
            entry[JournalEntry.Key.imageName] = imagePrefix + uuid
            state.omaps[journal.entryObject(uuid)] = entry
            return uuid
        }
    }

    func undoReservation(uuid: String, requestName: String?, at location: PoolLocation, journal: VolumeJournal, access: ClusterAccess) async throws {
        try await step("undoReservation") { state in
            state.omaps[journal.entryObject(uuid)] = nil
            if let requestName { state.omaps[journal.directoryObject]?[journal.directoryKey(requestName)] = nil }
        }
    }

    func releaseReservation(uuid: String, requestName: String?, at location: PoolLocation, journal: VolumeJournal, access: ClusterAccess) async throws {
        try await step("releaseReservation") { state in
            if let requestName { state.omaps[journal.directoryObject]?[journal.directoryKey(requestName)] = nil }
            state.omaps[journal.entryObject(uuid)] = nil
        }
    }

    func setEntryValues(_ values: [String: String], uuid: String, at location: PoolLocation, journal: VolumeJournal, access: ClusterAccess) async throws {
        try await step("setEntryValues") { $0.omaps[journal.entryObject(uuid), default: [:]].merge(values) { $1 } }
    }

    func createImage(_ spec: ImageSpec, size: UInt64, features: [String]?, dataPool: String?, layout: ImageLayout, access: ClusterAccess) async throws {
        try await step("createImage") { state in
            guard state.images[spec] == nil else { throw CephAccessError.imageExists(spec) }
            state.images[spec] = Image(id: "id\(state.nextID)", size: size)
            state.nextID += 1
        }
    }

    func growImage(_ spec: ImageSpec, to size: UInt64, access: ClusterAccess) async throws {
        try await step("growImage") { state in
            guard state.images[spec] != nil else { throw CephAccessError.imageNotFound(spec) }
            state.images[spec]!.size = max(size, state.images[spec]!.size)
        }
    }

    func removeImage(_ spec: ImageSpec, access: ClusterAccess) async throws {
        try await step("removeImage") { $0.images[spec] = nil }
    }

    func imageDetails(_ spec: ImageSpec, access: ClusterAccess) async throws -> ImageDetails {
        try await step("imageDetails") { state in
            guard let image = state.images[spec] else { throw CephAccessError.imageNotFound(spec) }
            let parent = image.parent.map {
                ImageParent(
                    pool: $0.pool, radosNamespace: $0.radosNamespace, imageID: state.images[$0]?.id ?? "", imageName: $0.image,
                    trashed: false, snapshot: image.parentSnapshot ?? ""
                )
            }
            return ImageDetails(size: image.size, imageID: image.id, features: 1 | 32, createdSeconds: 0, createdNanoseconds: 0, parent: parent)
        }
    }

    func createSnapshot(of spec: ImageSpec, named snapshot: String, access: ClusterAccess) async throws {
        try await step("createSnapshot") { state in
            guard state.images[spec] != nil else { throw CephAccessError.imageNotFound(spec) }
            state.images[spec]!.snapshots.insert(snapshot)
        }
    }

    func removeSnapshot(of spec: ImageSpec, named snapshot: String, access: ClusterAccess) async throws {
        try await step("removeSnapshot") { _ = $0.images[spec]?.snapshots.remove(snapshot) }
    }

    func snapshotCount(of spec: ImageSpec, access: ClusterAccess) async throws -> Int {
        try await step("snapshotCount") { $0.images[spec]?.snapshots.count ?? 0 }
    }

    func cloneImage(_ parent: ImageSpec, snapshot: String, to child: ImageSpec, features: [String]?, dataPool: String?, access: ClusterAccess) async throws {
        try await step("cloneImage") { state in
            guard let source = state.images[parent], source.snapshots.contains(snapshot) else { throw CephAccessError.imageNotFound(parent) }
            if state.images[child] != nil { return }
            state.images[child] = Image(id: "id\(state.nextID)", size: source.size, parent: parent, parentSnapshot: snapshot)
            state.nextID += 1
        }
    }

    func cloneDepth(of spec: ImageSpec, access: ClusterAccess) async throws -> Int {
        try await step("cloneDepth") { state in
            var depth = 0
            var current = state.images[spec]?.parent
            while let parent = current {
                depth += 1
                current = state.images[parent]?.parent
            }
            return depth
        }
    }

    func flatten(_ spec: ImageSpec, wait: Bool, access: ClusterAccess) async throws -> FlattenOutcome? {
        try await step("flatten") { state in
            guard wait else { return .queued }
            state.images[spec]?.parent = nil
            return .flattened
        }
    }

    // MARK: CephMetadataReading

    func journalEntry(of id: CSIVolumeID, volumeID: String, radosNamespace: String, access: ClusterAccess) async throws -> JournalEntry {
        throw CephAccessError.journalEntryMissing(volumeID: volumeID, reason: "not faked")
    }

    func imageStatus(_ spec: ImageSpec, access: ClusterAccess) async throws -> ImageStatus {
        try await step("imageStatus") { state in
            guard let image = state.images[spec] else { throw CephAccessError.imageNotFound(spec) }
            return ImageStatus(size: image.size, imageID: image.id, watchers: [])
        }
    }

    func imageWatchers(_ spec: ImageSpec, access: ClusterAccess) async throws -> [String] {
        try await step("imageWatchers") { state in
            guard state.images[spec] != nil else { throw CephAccessError.imageNotFound(spec) }
            return []
        }
    }

    func imageMetadata(_ spec: ImageSpec, keys: [String], access: ClusterAccess) async throws -> [String: String] { [:] }

    func setImageMetadata(_ spec: ImageSpec, key: String, value: String, access: ClusterAccess) async throws {}

    /// A controller over this cluster.
    func controller(cloneLimits: CloneLimits = .defaults) -> ControllerService {
        let host = ControllerHost(
            clusters: self, provisioner: self, metadata: self, journal: VolumeJournal(instanceID: "default"),
            kmsConfig: KMSConfig(path: "/nonexistent"), cloneLimits: cloneLimits
        )
        return ControllerService(info: PluginInfo(driverName: "d", version: "v", nodeID: "n", topology: [:], servesController: true), host: host, logger: .init(label: "fake"))
    }
}
