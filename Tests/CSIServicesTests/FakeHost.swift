import CephAccess
import Foundation
import HostOperations
import Synchronization

@testable import CSIServices

/// A host that records every operation and keeps a mount table in memory.
final class FakeHost: Sendable {
    let calls = Mutex<[String]>([])
    let mounts = Mutex<[MountEntry]>([])
    let deviceContent = Mutex<String?>(nil)
    /// What individual devices hold, over `deviceContent`.
    let contents = Mutex<[String: String]>([:])
    let imageMetadata = Mutex<[String: String]>([:])
    let openLUKS = Mutex<Set<String>>([])
    let kmsConfigPath = NSTemporaryDirectory() + "rbdcsi-unit-kms-\(UUID().uuidString.prefix(8)).json"
    let mapFailure = Mutex<CommandError?>(nil)
    /// Images already mapped on the "node", by spec, with their device.
    let mapped = Mutex<[String: String]>([:])
    /// Journal entries by object UUID, in pool "replicapool"; a thrown error stands for a dead cluster.
    let journal = Mutex<[String: [String: String]]>([:])
    let metadataFailure = Mutex<CephAccessError?>(nil)
    /// Watchers reported by successive image status reads; the last one repeats.
    let watchers = Mutex<[[String]]>([[]])
    /// Filesystem and device sizes the probe reports.
    let sizes = Mutex<(filesystem: FilesystemSuperblock?, device: UInt64)>((nil, 1 << 30))
    /// The image's librbd feature bits, and where the kernel's supported mask is (absent: no driver).
    let imageFeatures = Mutex<UInt64>(1)
    let krbdFeaturesPath = NSTemporaryDirectory() + "rbdcsi-unit-krbd-\(UUID().uuidString.prefix(8))"

    func record(_ call: String) { calls.withLock { $0.append(call) } }
    var recorded: [String] { calls.withLock { $0 } }

    var host: NodeHost {
        NodeHost(
            mountTable: Table(fake: self), mounter: Mounter(fake: self), probe: Probe(fake: self),
            formatter: Formatter(fake: self), checker: Checker(fake: self), resizer: Resizer(fake: self),
            luks: LUKS(fake: self), kmsConfig: KMSConfig(path: kmsConfigPath), clusters: Clusters(),
            metadata: Metadata(fake: self),
            mappers: [.krbd: Mapper(fake: self), .nbd: Mapper(fake: self, device: "/dev/nbd3"), .fuse: Mapper(fake: self)],
            devices: PluginDevices(fuseDirectory: "/nonexistent/rbdcsi-unit/fuse"),
            inUseWait: InUseWait(initialDelay: .milliseconds(1), factor: 2, checks: 4),
            krbdFeatures: KernelRBDFeatures(path: krbdFeaturesPath)
        )
    }

    struct Table: MountTableReading {
        let fake: FakeHost
        func entries() throws -> [MountEntry] { fake.mounts.withLock { $0 } }
    }

    struct Mounter: Mounting {
        let fake: FakeHost
        func mount(source: String, target: String, fsType: String?, options: [String]) async throws {
            fake.record("mount \(source) \(target) \(fsType ?? "-") \(options.joined(separator: ","))")
            let entry = MountEntry(mountID: 1, parentID: 0, device: "0:0", root: "/", mountPoint: PathName.normalize(target),
                                   mountOptions: options, fsType: fsType ?? "none", source: source, superOptions: [])
            fake.mounts.withLock { $0.append(entry) }
        }
        func unmount(_ target: String) async throws {
            fake.record("umount \(target)")
            fake.mounts.withLock { $0.removeAll { $0.mountPoint == PathName.normalize(target) } }
        }
    }

    struct Probe: BlockDeviceProbing {
        let fake: FakeHost
        func contentType(of device: String) async throws -> String? {
            fake.contents.withLock { $0[device] } ?? fake.deviceContent.withLock { $0 }
        }
        func sizes(of device: String) throws -> (filesystem: FilesystemSuperblock?, device: UInt64) { fake.sizes.withLock { $0 } }
    }

    struct Formatter: FilesystemFormatting {
        let fake: FakeHost
        func format(device: String, fsType: String, options: [String]?) async throws {
            fake.record("mkfs \(fsType) \(device)")
            fake.contents.withLock { $0[device] = fsType }
        }
    }

    struct Checker: FilesystemChecking {
        let fake: FakeHost
        func check(device: String, fsType: String) async throws { fake.record("fsck \(device)") }
    }

    struct Resizer: FilesystemResizing {
        let fake: FakeHost
        func refreshCapacity(of device: String) async throws { fake.record("refresh \(device)") }
        func grow(device: String, mountPoint: String, fsType: String) async throws { fake.record("grow \(fsType) \(mountPoint)") }
        func growUnmounted(device: String, fsType: String) async throws -> Bool {
            guard fsType.hasPrefix("ext") else { return false }
            fake.record("grow unmounted \(fsType) \(device)")
            return true
        }
    }

    /// LUKS with a passphrase check: the header remembers the passphrase it was formatted with.
    struct LUKS: LUKSOperating {
        let fake: FakeHost
        func format(device: String, passphrase: String) async throws {
            fake.record("luks format \(device)")
            fake.contents.withLock { $0[device] = "crypto_LUKS"; $0["passphrase of " + device] = passphrase }
        }
        func open(device: String, name: String, passphrase: String) async throws {
            fake.record("luks open \(device) \(name)")
            guard fake.contents.withLock({ $0["passphrase of " + device] }) == passphrase else {
                throw CommandError.failed(command: "cryptsetup luksOpen", result: CommandResult(exitCode: 2, standardOutput: "", standardError: "No key available with this passphrase."))
            }
            fake.openLUKS.withLock { _ = $0.insert(name) }
        }
        func close(name: String) async throws {
            guard isOpen(name: name) else { return }
            fake.record("luks close \(name)")
            fake.openLUKS.withLock { _ = $0.remove(name) }
        }
        func isOpen(name: String) -> Bool { fake.openLUKS.withLock { $0.contains(name) } }
        func resize(name: String) async throws { fake.record("luks resize \(name)") }
    }

    struct Clusters: ClusterLookup {
        func cluster(_ clusterID: String) throws -> ClusterConfig.Cluster {
            guard clusterID == "c1" else { throw CephAccessError.unknownCluster(clusterID, configFile: "fake.json") }
            return try JSONDecoder().decode(ClusterConfig.Cluster.self, from: Data(#"{"clusterID":"c1","monitors":["10.0.0.1:6789"]}"#.utf8))
        }
    }

    struct Metadata: CephMetadataReading {
        let fake: FakeHost
        func journalEntry(of id: CSIVolumeID, volumeID: String, radosNamespace: String, access: ClusterAccess) async throws -> JournalEntry {
            fake.record("journal \(id.poolID) \(id.journalObject) mons=\(access.monitorList)")
            if let failure = fake.metadataFailure.withLock({ $0 }) { throw failure }
            let values = fake.journal.withLock { $0[id.objectUUID] }
            return try JournalEntry(id: id, volumeID: volumeID, pool: "replicapool", radosNamespace: radosNamespace, values: values)
        }
        func imageStatus(_ spec: ImageSpec, access: ClusterAccess) async throws -> ImageStatus {
            let current = fake.watchers.withLock { queue in queue.count > 1 ? queue.removeFirst() : queue[0] }
            fake.record("status \(spec) watchers=\(current.count)")
            return ImageStatus(size: 1 << 30, imageID: "1234", watchers: current, features: fake.imageFeatures.withLock { $0 })
        }
        func imageWatchers(_ spec: ImageSpec, access: ClusterAccess) async throws -> [String] {
            try await imageStatus(spec, access: access).watchers
        }
        func imageMetadata(_ spec: ImageSpec, keys: [String], access: ClusterAccess) async throws -> [String: String] {
            fake.imageMetadata.withLock { $0 }.filter { keys.contains($0.key) }
        }
        func setImageMetadata(_ spec: ImageSpec, key: String, value: String, access: ClusterAccess) async throws {
            fake.record("image-meta set \(key)")
            fake.imageMetadata.withLock { $0[key] = value }
        }
    }

    struct Mapper: ImageMapping {
        let fake: FakeHost
        var device = "/dev/rbd7"
        func mappedDevice(of spec: ImageSpec) async throws -> String? { fake.mapped.withLock { $0[spec.description] } }
        func map(_ request: MapRequest) async throws -> String {
            fake.record("map \(request.spec) ro=\(request.readOnly) key=\(!request.key.isEmpty)" + (request.options.isEmpty ? "" : " options=\(request.options.joined(separator: ","))"))
            if let failure = fake.mapFailure.withLock({ $0 }) { throw failure }
            return device
        }
        func unmap(_ spec: ImageSpec, options: [String]) async throws {
            fake.record("unmap \(spec)" + (options.isEmpty ? "" : " options=\(options.joined(separator: ","))"))
        }
    }
}
