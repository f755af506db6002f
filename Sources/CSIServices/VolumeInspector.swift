import CSIProtocol
import HostOperations
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// NodeGetVolumeStats and NodeExpandVolume: usage and health of a published or staged path,
/// and growing its filesystem after the image grew. Stats run no child process.
struct VolumeInspector {
    let host: NodeHost
    let logger: Logger

    /// Only paths where this plugin staged or published a volume are answered: any other
    /// path (`/`, a host disk) is NOT_FOUND, and nothing but the volume's own device is opened.
    func stats(volumeID: String, path: String) async throws -> Csi_V1_NodeGetVolumeStatsResponse {
        guard let mount = try host.mountTable.mount(at: path) else {
            guard HostPaths.exists(path) else { throw CSIError.notFound("path \(path) does not exist") }
            guard HostPaths.isEmpty(path) else {
                throw CSIError.notFound("\(path) is not a path where this plugin staged or published volume \(volumeID)")
            }
            return Self.abnormal("\(path) is not a mount point any more")
        }
        guard await host.devices.isPluginMount(mount) else {
            throw CSIError.notFound("\(path) is a mount of \(mount.source), not a volume of this plugin")
        }
        let device = PluginDevices.device(of: mount)
        guard HostPaths.exists(device) else { return Self.abnormal("device \(device) of \(path) is gone") }
        var fuseMount: String?
        switch fuseBackend(of: device) {
        case .none: break
        case .attached(let mount): fuseMount = mount
        case .detached(let file):
            return Self.abnormal("the rbd-fuse mount serving \(device) is gone (unmounted while in use); \(device) now reads from \(file) on a detached mount")
        }
        // One check, usually answered from what it kept: the device's health and, for a
        // filesystem, its usage.
        let isBlock = mount.fsType == "devtmpfs"
        let report = await host.health.report(of: device, fuseMount: fuseMount, mountPoint: isBlock ? nil : path)
        if let problem = report.problem { return Self.abnormal(problem) }
        if isBlock {
            let size = try HostPaths.size(of: device)
            return .with {
                $0.usage = [.with { $0.total = size; $0.unit = .bytes }]
                $0.volumeCondition = .with { $0.abnormal = false; $0.message = "volume is healthy" }
            }
        }
        guard let usage = report.usage else { throw CSIError.internalError("no usage read for \(path)") }
        return .with {
            $0.usage = [
                .with { $0.unit = .bytes; $0.total = usage.totalBytes; $0.available = usage.availableBytes; $0.used = usage.usedBytes },
                .with { $0.unit = .inodes; $0.total = usage.totalInodes; $0.available = usage.freeInodes; $0.used = usage.usedInodes },
            ]
            $0.volumeCondition = .with { $0.abnormal = false; $0.message = "volume is healthy" }
        }
    }

    /// What serves a loop device of this plugin, from one read of sysfs.
    private enum FuseBackend {
        /// Not a loop device: nothing beyond the device itself.
        case none
        /// The rbd-fuse mount the image file lies in.
        case attached(mount: String)
        /// The FUSE mount was lazily unmounted: the volume still reads from a daemon nothing
        /// can reach or stop any more; `file` is the path sysfs now shows.
        case detached(file: String)
    }

    private func fuseBackend(of device: String) -> FuseBackend {
        guard device.hasPrefix("/dev/loop"), let backing = LoopDevices.backingFile(ofLoop: String(device.dropFirst("/dev/".count))) else { return .none }
        // Attached, sysfs shows the full path under the FUSE directory; once the mount is
        // detached, only the path inside it (`/<image>`).
        guard backing.hasPrefix(host.devices.fuseDirectory + "/"), let slash = backing.lastIndex(of: "/") else { return .detached(file: backing) }
        return .attached(mount: String(backing[..<slash]))
    }

    private static func abnormal(_ message: String) -> Csi_V1_NodeGetVolumeStatsResponse {
        .with { $0.volumeCondition = .with { $0.abnormal = true; $0.message = message } }
    }

    func expand(volumeID: String, path: String) async throws -> Int64 {
        guard HostPaths.exists(path) else { throw CSIError.notFound("volume path \(path) does not exist") }
        guard let mount = try host.mountTable.mount(at: path) else {
            throw CSIError.failedPrecondition("volume path \(path) is not mounted")
        }
        guard await host.devices.isPluginMount(mount) else {
            throw CSIError.notFound("\(path) is a mount of \(mount.source), not a volume of this plugin")
        }
        let device = PluginDevices.device(of: mount)
        let mapper = VolumeEncryptor.mapperName(volumeID: volumeID)
        if host.luks.isOpen(name: mapper) {
            // Encrypted: the mapped device learns its new size (krbd and rbd-nbd by themselves, a
            // loop device through losetup), then the LUKS mapping grows to it, then the filesystem.
            for underlying in LUKSHolders.devices(under: mapper) { try await host.resizer.refreshCapacity(of: underlying) }
            try await host.luks.resize(name: mapper)
        } else {
            try await host.resizer.refreshCapacity(of: device)
        }
        if mount.fsType != "devtmpfs" {
            try await host.resizer.grow(device: device, mountPoint: path, fsType: mount.fsType)
        }
        return try HostPaths.size(of: device)
    }
}
