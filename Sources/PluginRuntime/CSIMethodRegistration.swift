import CSIProtocol
import CSIServices
import GRPCTransport

// The CSI services' entries in the transport's method table, each with what the call log
// names a call by (the volume, snapshot or request name; never a secret).
//
// The methods kubelet and the sidecars call often and that answer from memory (stats reads
// cached health and offloads statvfs) run on the event loop; the rest on the cooperative pool.

extension Csi_V1_Identity.SimpleServiceProtocol where Self: GRPCMethodTableRegistrable {
    public func register(in table: inout GRPCMethodTable) {
        typealias M = Csi_V1_Identity.Method
        table.add(M.GetPluginInfo.descriptor, onEventLoop: true, getPluginInfo(request:context:))
        table.add(M.GetPluginCapabilities.descriptor, onEventLoop: true, getPluginCapabilities(request:context:))
        table.add(M.Probe.descriptor, onEventLoop: true, probe(request:context:))
    }
}

extension Csi_V1_Controller.SimpleServiceProtocol where Self: GRPCMethodTableRegistrable {
    public func register(in table: inout GRPCMethodTable) {
        typealias M = Csi_V1_Controller.Method
        table.add(M.CreateVolume.descriptor, subject: \.name, createVolume(request:context:))
        table.add(M.DeleteVolume.descriptor, subject: \.volumeID, deleteVolume(request:context:))
        table.add(M.ValidateVolumeCapabilities.descriptor, subject: \.volumeID, validateVolumeCapabilities(request:context:))
        table.add(M.ControllerGetCapabilities.descriptor, onEventLoop: true, controllerGetCapabilities(request:context:))
        table.add(M.CreateSnapshot.descriptor, subject: \.sourceVolumeID, createSnapshot(request:context:))
        table.add(M.DeleteSnapshot.descriptor, subject: \.snapshotID, deleteSnapshot(request:context:))
        table.add(M.ControllerExpandVolume.descriptor, subject: \.volumeID, controllerExpandVolume(request:context:))
    }
}

extension Csi_V1_Node.SimpleServiceProtocol where Self: GRPCMethodTableRegistrable {
    public func register(in table: inout GRPCMethodTable) {
        typealias M = Csi_V1_Node.Method
        table.add(M.NodeStageVolume.descriptor, subject: \.volumeID, nodeStageVolume(request:context:))
        table.add(M.NodeUnstageVolume.descriptor, subject: \.volumeID, nodeUnstageVolume(request:context:))
        table.add(M.NodePublishVolume.descriptor, subject: \.volumeID, nodePublishVolume(request:context:))
        table.add(M.NodeUnpublishVolume.descriptor, subject: \.volumeID, nodeUnpublishVolume(request:context:))
        table.add(M.NodeGetVolumeStats.descriptor, onEventLoop: true, subject: \.volumeID, nodeGetVolumeStats(request:context:))
        table.add(M.NodeExpandVolume.descriptor, subject: \.volumeID, nodeExpandVolume(request:context:))
        table.add(M.NodeGetCapabilities.descriptor, onEventLoop: true, nodeGetCapabilities(request:context:))
        table.add(M.NodeGetInfo.descriptor, onEventLoop: true, nodeGetInfo(request:context:))
    }
}

extension IdentityService: GRPCMethodTableRegistrable {}
extension ControllerService: GRPCMethodTableRegistrable {}
extension NodeService: GRPCMethodTableRegistrable {}
