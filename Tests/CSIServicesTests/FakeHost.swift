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
    let mapFailure = Mutex<CommandError?>(nil)

    func record(_ call: String) { calls.withLock { $0.append(call) } }
    var recorded: [String] { calls.withLock { $0 } }

    var host: NodeHost {
        NodeHost(
            mountTable: Table(fake: self), mounter: Mounter(fake: self), probe: Probe(fake: self),
            formatter: Formatter(fake: self), checker: Checker(fake: self), resizer: SystemResizer(runner: ProcessRunner()), clusters: Clusters(),
            mappers: [.krbd: Mapper(fake: self), .fuse: Mapper(fake: self)],
            keyDirectory: NSTemporaryDirectory() + "rbdcsi-unit-keys"
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
        func contentType(of device: String) async throws -> String? { fake.deviceContent.withLock { $0 } }
    }

    struct Formatter: FilesystemFormatting {
        let fake: FakeHost
        func format(device: String, fsType: String, options: [String]?) async throws {
            fake.record("mkfs \(fsType) \(device)")
            fake.deviceContent.withLock { $0 = fsType }
        }
    }

    struct Checker: FilesystemChecking {
        let fake: FakeHost
        func check(device: String, fsType: String) async throws { fake.record("fsck \(device)") }
    }

    struct Clusters: ClusterLookup {
        func cluster(_ clusterID: String) throws -> ClusterConfig.Cluster {
            guard clusterID == "c1" else { throw CephAccessError.unknownCluster(clusterID, configFile: "fake.json") }
            return try JSONDecoder().decode(ClusterConfig.Cluster.self, from: Data(#"{"clusterID":"c1","monitors":["10.0.0.1:6789"]}"#.utf8))
        }
    }

    struct Mapper: ImageMapping {
        let fake: FakeHost
        func mappedDevice(of spec: ImageSpec) async throws -> String? { nil }
        func map(_ request: MapRequest) async throws -> String {
            fake.record("map \(request.spec) ro=\(request.readOnly) key=\(FileManager.default.fileExists(atPath: request.keyFile))")
            if let failure = fake.mapFailure.withLock({ $0 }) { throw failure }
            return "/dev/rbd7"
        }
        func unmap(_ spec: ImageSpec, options: [String]) async throws { fake.record("unmap \(spec)") }
    }
}
