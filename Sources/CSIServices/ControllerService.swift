import CSIProtocol
import CephAccess
import GRPCCore
import Logging

/// The CSI Controller service: provisions, validates, expands and deletes RBD volumes on
/// ceph-csi v3.12's on-disk layout. Where ceph-csi and the CSI spec disagree, the spec wins
/// (README: compatibility). Without `--controllerserver` it only answers its capabilities
/// (empty), which conformance clients ask node-only plugins for.
public struct ControllerService: Csi_V1_Controller.SimpleServiceProtocol {
    public let info: PluginInfo
    private let logger: Logger
    private let provisioner: VolumeProvisioner?
    private let snapshots: SnapshotProvisioner?
    /// Request names (CreateVolume, DeleteVolume) and volume ids (DeleteVolume, expand) in
    /// flight; snapshot names apart (they are another namespace). Volume and snapshot ids
    /// share `ids`: a source being snapshotted or cloned cannot be deleted or expanded at the
    /// same time, nor a snapshot deleted while a restore reads it (ceph-csi's op-locks).
    private let names = VolumeLocks(holdWhileWorkLingers: true)
    private let snapshotNames = VolumeLocks(holdWhileWorkLingers: true)
    private let ids = VolumeLocks(holdWhileWorkLingers: true)

    /// `host` nil: this process does not serve the Controller service.
    public init(info: PluginInfo, host: ControllerHost?, logger: Logger) {
        self.info = info
        self.logger = logger
        self.provisioner = host.map { VolumeProvisioner(host: $0, logger: logger) }
        self.snapshots = host.map { SnapshotProvisioner(host: $0, cloner: ImageCloner(host: $0, logger: logger), logger: logger) }
    }

    /// ceph-csi's four (contract §1).
    private static let capabilities = Csi_V1_ControllerGetCapabilitiesResponse.with {
        $0.capabilities = [Csi_V1_ControllerServiceCapability.RPC.TypeEnum.createDeleteVolume, .createDeleteSnapshot, .cloneVolume, .expandVolume]
            .map { type in .with { $0.rpc.type = type } }
    }

    public func controllerGetCapabilities(request: Csi_V1_ControllerGetCapabilitiesRequest, context: ServerContext) async throws -> Csi_V1_ControllerGetCapabilitiesResponse {
        provisioner == nil ? Csi_V1_ControllerGetCapabilitiesResponse() : Self.capabilities
    }

    private func served(_ method: String) throws -> VolumeProvisioner {
        guard let provisioner else { throw CSIError.unimplemented("\(method) (start the plugin with --controllerserver=true)") }
        return provisioner
    }

    public func createVolume(request: Csi_V1_CreateVolumeRequest, context: ServerContext) async throws -> Csi_V1_CreateVolumeResponse {
        let provisioner = try served("CreateVolume")
        let parameters = try await CreateVolumeParameters.read(request, kmsConfig: provisioner.host.kmsConfig, maxBytes: provisioner.host.maxVolumeBytes)
        let create = { try await provisioner.create(parameters, from: VolumeSource.resolve(parameters, host: provisioner.host)) }
        let volume = try await names.withLock(request.name) {
            // A content source is held like a volume id: not deleted or expanded meanwhile.
            guard let sourceID = parameters.contentSource?.id, !sourceID.isEmpty else { return try await create() }
            return try await ids.withLock(sourceID, create)
        }
        return .with { $0.volume = volume }
    }

    public func deleteVolume(request: Csi_V1_DeleteVolumeRequest, context: ServerContext) async throws -> Csi_V1_DeleteVolumeResponse {
        let provisioner = try served("DeleteVolume")
        guard !request.volumeID.isEmpty else { throw CSIError.invalidArgument("empty volume ID in request") }
        let credentials = try Self.credentials(request.secrets)
        try await ids.withLock(request.volumeID) {
            // The CSI spec: an id that names nothing (undecodable, unknown cluster, pool
            // gone) is deleted already. ceph-csi answers INTERNAL for some of these.
            guard let volume = try await provisioner.locate(request.volumeID, credentials: credentials) else {
                logger.info("volume does not exist; nothing to delete", metadata: ["volume": "\(request.volumeID)"])
                return
            }
            if let name = volume.requestName {
                try await names.withLock(name) { try await provisioner.delete(volume) }
            } else {
                try await provisioner.delete(volume)
            }
        }
        return Csi_V1_DeleteVolumeResponse()
    }

    public func createSnapshot(request: Csi_V1_CreateSnapshotRequest, context: ServerContext) async throws -> Csi_V1_CreateSnapshotResponse {
        guard let snapshots else { throw CSIError.unimplemented("CreateSnapshot (start the plugin with --controllerserver=true)") }
        guard !request.name.isEmpty else { throw CSIError.invalidArgument("snapshot Name cannot be empty") }
        guard !request.sourceVolumeID.isEmpty else { throw CSIError.invalidArgument("source Volume ID cannot be empty") }
        try CephStringRule.text.require(request.name, as: "snapshot name")
        let prefix = try SnapshotProvisioner.Request.prefix(request.parameters)
        let credentials = try Self.credentials(request.secrets)
        let snapshot = try await snapshotNames.withLock(request.name) {
            try await ids.withLock(request.sourceVolumeID) {
                guard let source = try await provisioner?.locate(request.sourceVolumeID, credentials: credentials), source.requestName != nil else {
                    throw CSIError.notFound("source volume \(request.sourceVolumeID) does not exist")
                }
                return try await snapshots.create(.init(
                    name: request.name, source: source, prefix: prefix, passphrase: request.secrets[EncryptionKMS.passphraseSecret]
                ))
            }
        }
        return .with { $0.snapshot = snapshot }
    }

    public func deleteSnapshot(request: Csi_V1_DeleteSnapshotRequest, context: ServerContext) async throws -> Csi_V1_DeleteSnapshotResponse {
        guard let snapshots else { throw CSIError.unimplemented("DeleteSnapshot (start the plugin with --controllerserver=true)") }
        guard !request.snapshotID.isEmpty else { throw CSIError.invalidArgument("snapshot ID cannot be empty") }
        let credentials = try Self.credentials(request.secrets)
        try await ids.withLock(request.snapshotID) {
            // As for volumes: an id that names nothing is deleted already (CSI spec).
            guard let snapshot = try await LocatedImage.locate(
                request.snapshotID, credentials: credentials, journal: snapshots.host.journal.snapshots, host: snapshots.host
            ), snapshot.reservation.values != nil else {
                logger.info("snapshot does not exist; nothing to delete", metadata: ["snapshot": "\(request.snapshotID)"])
                return
            }
            if let name = snapshot.requestName {
                try await snapshotNames.withLock(name) { try await snapshots.delete(snapshot) }
            } else {
                try await snapshots.delete(snapshot)
            }
        }
        return Csi_V1_DeleteSnapshotResponse()
    }

    public func controllerExpandVolume(request: Csi_V1_ControllerExpandVolumeRequest, context: ServerContext) async throws -> Csi_V1_ControllerExpandVolumeResponse {
        let provisioner = try served("ControllerExpandVolume")
        guard !request.volumeID.isEmpty else { throw CSIError.invalidArgument("volume ID cannot be empty") }
        guard request.hasCapacityRange else { throw CSIError.invalidArgument("capacityRange cannot be empty") }
        let size = try CreateVolumeParameters.roundedSize(request.capacityRange, maxBytes: provisioner.host.maxVolumeBytes)
        let credentials = try Self.credentials(request.secrets)
        let capacity = try await ids.withLock(request.volumeID) {
            guard let volume = try await provisioner.locate(request.volumeID, credentials: credentials) else {
                throw CSIError.notFound("volume \(request.volumeID) does not exist")
            }
            return try await provisioner.expand(volume, to: size)
        }
        return .with {
            $0.capacityBytes = Int64(clamping: capacity)
            // A filesystem grows on the node; a raw block device needs nothing more.
            $0.nodeExpansionRequired = !(request.hasVolumeCapability && request.volumeCapability.isBlock)
        }
    }

    public func validateVolumeCapabilities(request: Csi_V1_ValidateVolumeCapabilitiesRequest, context: ServerContext) async throws -> Csi_V1_ValidateVolumeCapabilitiesResponse {
        let provisioner = try served("ValidateVolumeCapabilities")
        guard !request.volumeID.isEmpty else { throw CSIError.invalidArgument("empty volume ID in request") }
        guard !request.volumeCapabilities.isEmpty else { throw CSIError.invalidArgument("empty volume capabilities in request") }
        // Beyond ceph-csi (which looks nothing up): an unknown volume is NOT_FOUND, as the
        // spec asks. Without secrets only the id's form can be checked.
        guard (try? CSIVolumeID(decoding: request.volumeID)) != nil else {
            throw CSIError.notFound("volume \(request.volumeID) does not exist")
        }
        if let credentials = CephCredentials(secrets: request.secrets) {
            guard let volume = try await provisioner.locate(request.volumeID, credentials: credentials), volume.requestName != nil else {
                throw CSIError.notFound("volume \(request.volumeID) does not exist")
            }
        }
        if let unsupported = request.volumeCapabilities.first(where: { !Self.supports($0) }) {
            return .with { $0.message = "unsupported capability: \(unsupported.isBlock ? "block" : "mount") access with mode \(unsupported.accessMode.mode)" }
        }
        return .with {
            $0.confirmed = .with {
                $0.volumeCapabilities = request.volumeCapabilities
                $0.volumeContext = request.volumeContext
                $0.parameters = request.parameters
            }
        }
    }

    /// Block volumes support every access mode; filesystems every mode but multi-node writers.
    static func supports(_ capability: Csi_V1_VolumeCapability) -> Bool {
        guard capability.accessType != nil else { return false }
        switch capability.accessMode.mode {
        case .unknown, .UNRECOGNIZED: return false
        case .multiNodeMultiWriter, .multiNodeSingleWriter: return capability.isBlock
        default: return true
        }
    }

    private static func credentials(_ secrets: [String: String]) throws -> CephCredentials {
        guard let credentials = CephCredentials(secrets: secrets) else {
            throw CSIError.invalidArgument("secrets must contain userID and userKey")
        }
        return credentials
    }
}
