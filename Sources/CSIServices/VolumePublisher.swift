import CSIProtocol
import HostOperations
import Logging

/// NodePublishVolume and NodeUnpublishVolume: bind-mount `S/<volID>` onto a pod's target path,
/// and take it away again. A target that holds data and is not a mount of this plugin is
/// never mounted over or deleted.
struct VolumePublisher {
    let host: NodeHost
    let logger: Logger

    func publish(_ request: Csi_V1_NodePublishVolumeRequest, capability: Csi_V1_VolumeCapability) async throws {
        let source = "\(request.stagingTargetPath)/\(request.volumeID)"
        let target = request.targetPath
        // Never bind an unstaged (empty) staging path: the pod's data would land on the host disk.
        guard let staged = try host.mountTable.mount(at: source), await host.devices.isPluginMount(staged) else {
            throw CSIError.failedPrecondition("volume \(request.volumeID) is not staged at \(source); stage it before publishing")
        }
        if let existing = try host.mountTable.mount(at: target) {
            guard await host.devices.isPluginMount(existing) else {
                throw CSIError.failedPrecondition("target path \(target) is already a mount of \(existing.source), not a volume of this plugin")
            }
            return
        }
        var created = false
        switch HostPaths.kind(of: target) {
        case .missing:
            if capability.isBlock { try HostPaths.makeFile(target) } else { try HostPaths.makeDirectory(target) }
            created = true
        case .directory where !capability.isBlock, .regularFile where capability.isBlock:
            guard HostPaths.isEmpty(target) else {
                throw CSIError.failedPrecondition("target path \(target) holds data; refusing to mount a volume over it")
            }
        default:
            throw CSIError.failedPrecondition(
                "target path \(target) exists and is not an empty \(capability.isBlock ? "file" : "directory"); refusing to publish there"
            )
        }
        var options = appendingUnique(["bind", "_netdev"], capability.uniqueMountFlags)
        if request.readonly { options = appendingUnique(options, ["ro"]) }
        do {
            try await host.mounter.mount(source: source, target: target, fsType: nil, options: options)
        } catch {
            if created { _ = try? HostPaths.removeIfEmpty(target) }
            throw error
        }
    }

    func unpublish(volumeID: String, target: String) async throws {
        if let mount = try host.mountTable.mount(at: target) {
            guard await host.devices.isPluginMount(mount) else {
                throw CSIError.failedPrecondition("target path \(target) is a mount of \(mount.source), not a volume of this plugin; not touching it")
            }
            try await host.mounter.unmount(target)
        }
        let removal: HostPaths.Removal
        do {
            removal = try HostPaths.removeIfEmpty(target)
        } catch {
            throw CSIError.internalError("failed to remove target path \(target): \(error)")
        }
        if case .keptHoldingData(let reason) = removal {
            throw CSIError.failedPrecondition("\(reason); it is not a mount of this plugin and was left in place")
        }
    }
}
