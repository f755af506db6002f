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

    func stats(volumeID: String, path: String) throws -> Csi_V1_NodeGetVolumeStatsResponse {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { throw CSIError.notFound("path \(path) does not exist") }
            return Self.abnormal("cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        if (info.st_mode & S_IFMT) == S_IFBLK {
            let size = try HostPaths.size(of: path)
            return .with {
                $0.usage = [.with { $0.total = size; $0.unit = .bytes }]
                $0.volumeCondition = .with { $0.abnormal = false; $0.message = "volume is healthy" }
            }
        }
        guard let mount = try host.mountTable.mount(at: path) else {
            return Self.abnormal("\(path) is not a mount point any more")
        }
        if mount.source.hasPrefix("/dev/") && !HostPaths.exists(mount.source) {
            return Self.abnormal("device \(mount.source) of \(path) is gone")
        }
        let usage: FilesystemUsage
        do {
            usage = try FilesystemUsage.of(path)
        } catch let error as HostError {
            return Self.abnormal("mount \(path) is corrupted: \(error)")
        }
        return .with {
            $0.usage = [
                .with { $0.unit = .bytes; $0.total = usage.totalBytes; $0.available = usage.availableBytes; $0.used = usage.usedBytes },
                .with { $0.unit = .inodes; $0.total = usage.totalInodes; $0.available = usage.freeInodes; $0.used = usage.usedInodes },
            ]
            $0.volumeCondition = .with { $0.abnormal = false; $0.message = "volume is healthy" }
        }
    }

    private static func abnormal(_ message: String) -> Csi_V1_NodeGetVolumeStatsResponse {
        .with { $0.volumeCondition = .with { $0.abnormal = true; $0.message = message } }
    }

    func expand(volumeID: String, path: String) async throws -> Int64 {
        guard HostPaths.exists(path) else { throw CSIError.notFound("volume path \(path) does not exist") }
        guard let mount = try host.mountTable.mount(at: path) else {
            throw CSIError.failedPrecondition("volume path \(path) is not mounted")
        }
        let device = mount.source
        guard device.hasPrefix("/dev/") else {
            throw CSIError.internalError("cannot find the device of \(path) (mounted from \(device))")
        }
        try await host.resizer.refreshCapacity(of: device)
        if !HostPaths.isBlockDevice(path) {
            try await host.resizer.grow(device: device, mountPoint: path, fsType: mount.fsType)
        }
        return try HostPaths.size(of: device)
    }
}
