import CSIProtocol
import HostOperations
import Logging

/// NodePublishVolume and NodeUnpublishVolume: bind-mount `S/<volID>` onto a pod's target path,
/// and take it away again.
struct VolumePublisher {
    let host: NodeHost
    let logger: Logger

    func publish(_ request: Csi_V1_NodePublishVolumeRequest, capability: Csi_V1_VolumeCapability) async throws {
        let source = "\(request.stagingTargetPath)/\(request.volumeID)"
        let target = request.targetPath
        // Never bind an unstaged (empty) staging path: the pod's data would land on the host disk.
        guard try host.mountTable.isMountPoint(source) else {
            throw CSIError.failedPrecondition("volume \(request.volumeID) is not staged at \(source); stage it before publishing")
        }
        var created = false
        if !HostPaths.exists(target) {
            if capability.isBlock { try HostPaths.makeFile(target) } else { try HostPaths.makeDirectory(target) }
            created = true
        } else if try host.mountTable.isMountPoint(target) {
            return
        }
        var options = appendingUnique(["bind", "_netdev"], capability.uniqueMountFlags)
        if request.readonly { options = appendingUnique(options, ["ro"]) }
        do {
            try await host.mounter.mount(source: source, target: target, fsType: nil, options: options)
        } catch {
            if created { try? HostPaths.remove(target) }
            throw error
        }
    }

    func unpublish(volumeID: String, target: String) async throws {
        guard HostPaths.exists(target) else { return }
        if try host.mountTable.isMountPoint(target) {
            try await host.mounter.unmount(target)
        }
        do {
            try HostPaths.remove(target)
        } catch {
            throw CSIError.internalError("failed to remove target path \(target): \(error)")
        }
    }
}
