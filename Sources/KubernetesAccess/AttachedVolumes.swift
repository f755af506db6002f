import Crypto

/// The volumes Kubernetes has attached to a node through a driver, with what a stage of each
/// needs: found as ceph-csi's healer finds them (VolumeAttachments of the node and driver that
/// are attached → their bound PersistentVolumes → the node-stage Secret of each).
public struct AttachedVolume: Sendable, Hashable {
    public var persistentVolume: String
    public var volumeHandle: String
    /// The staging path kubelet gave the volume's NodeStageVolume.
    public var stagingPath: String
    public var isBlock: Bool
    public var fsType: String
    /// The PV's first access mode (`ReadWriteOnce`, …).
    public var accessMode: String
    public var mountOptions: [String]
    public var volumeAttributes: [String: String]
    public var secrets: [String: String]
}

public enum AttachedVolumes {
    /// The attached volumes of `nodeName` and `driverName` whose volume attributes pass
    /// `include` (the healer takes `mounter: rbd-nbd`), and a line for each one that could
    /// not be read. `stagingRoot` is kubelet's CSI directory (`--stagingpath`).
    public static func discover(
        client: KubernetesClient, nodeName: String, driverName: String, stagingRoot: String,
        include: @Sendable ([String: String]) -> Bool
    ) async throws(KubernetesError) -> (volumes: [AttachedVolume], problems: [String]) {
        let attachments = try await client.volumeAttachments().filter {
            $0.spec.nodeName == nodeName && $0.spec.attacher == driverName && $0.status?.attached == true
        }
        guard !attachments.isEmpty else { return ([], []) }
        // Kubernetes before 1.24 staged under pv/<name>/globalmount.
        let legacy = (try? await client.serverVersion().number).map { $0 < 1024 } ?? false
        var volumes: [AttachedVolume] = []
        var problems: [String] = []
        for attachment in attachments {
            guard let name = attachment.spec.source.persistentVolumeName else { continue }
            do {
                let pv = try await client.persistentVolume(named: name)
                guard pv.status?.phase == "Bound", pv.metadata.deletionTimestamp == nil, let csi = pv.spec.csi, csi.driver == driverName,
                      include(csi.volumeAttributes ?? [:])
                else { continue }
                guard let reference = csi.nodeStageSecretRef else {
                    problems.append("\(name): no nodeStageSecretRef")
                    continue
                }
                let secret = try await client.secret(reference.name, namespace: reference.namespace)
                let isBlock = pv.spec.volumeMode == "Block" || csi.fsType == "block"
                volumes.append(AttachedVolume(
                    persistentVolume: name, volumeHandle: csi.volumeHandle,
                    stagingPath: stagingPath(root: stagingRoot, driver: driverName, persistentVolume: name, volumeHandle: csi.volumeHandle, isBlock: isBlock, legacy: legacy),
                    isBlock: isBlock, fsType: isBlock ? "" : (csi.fsType ?? ""), accessMode: pv.spec.accessModes?.first ?? "ReadWriteOnce",
                    mountOptions: pv.spec.mountOptions ?? [], volumeAttributes: csi.volumeAttributes ?? [:], secrets: secret.data
                ))
            } catch {
                problems.append("\(name): \(error)")
            }
        }
        return (volumes, problems)
    }

    /// Where kubelet stages a CSI volume: `<root>/<driver>/<sha256(handle)>/globalmount` (1.24
    /// and later), `<root>/pv/<pv>/globalmount` before, and `<root>/volumeDevices/staging/<pv>`
    /// for a block volume.
    public static func stagingPath(root: String, driver: String, persistentVolume: String, volumeHandle: String, isBlock: Bool, legacy: Bool) -> String {
        let base = root.hasSuffix("/") ? String(root.dropLast()) : root
        if isBlock { return "\(base)/volumeDevices/staging/\(persistentVolume)" }
        if legacy { return "\(base)/pv/\(persistentVolume)/globalmount" }
        let digest = SHA256.hash(data: Array(volumeHandle.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
        return "\(base)/\(driver)/\(digest)/globalmount"
    }
}
