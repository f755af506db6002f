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
    private let recorder: RPCCallRecorder
    private let provisioner: VolumeProvisioner?
    /// Request names (CreateVolume, DeleteVolume) and volume ids (DeleteVolume, expand) in flight.
    private let names = VolumeLocks()
    private let ids = VolumeLocks()

    /// `host` nil: this process does not serve the Controller service.
    public init(info: PluginInfo, host: ControllerHost?, logger: Logger) {
        self.info = info
        self.recorder = RPCCallRecorder(logger: logger)
        self.provisioner = host.map { VolumeProvisioner(host: $0, logger: logger) }
    }

    private static let capabilities = Csi_V1_ControllerGetCapabilitiesResponse.with {
        $0.capabilities = [Csi_V1_ControllerServiceCapability.RPC.TypeEnum.createDeleteVolume, .expandVolume]
            .map { type in .with { $0.rpc.type = type } }
    }

    public func controllerGetCapabilities(request: Csi_V1_ControllerGetCapabilitiesRequest, context: ServerContext) async throws -> Csi_V1_ControllerGetCapabilitiesResponse {
        try await recorder.record("ControllerGetCapabilities") {
            provisioner == nil ? Csi_V1_ControllerGetCapabilitiesResponse() : Self.capabilities
        }
    }

    private func served(_ method: String) throws -> VolumeProvisioner {
        guard let provisioner else { throw CSIError.unimplemented("\(method) (start the plugin with --controllerserver=true)") }
        return provisioner
    }

    public func createVolume(request: Csi_V1_CreateVolumeRequest, context: ServerContext) async throws -> Csi_V1_CreateVolumeResponse {
        try await recorder.record("CreateVolume", volumeID: request.name) {
            let provisioner = try served("CreateVolume")
            let parameters = try CreateVolumeParameters(request, kmsConfig: provisioner.host.kmsConfig)
            let volume = try await names.withLock(request.name) { try await provisioner.create(parameters) }
            return .with { $0.volume = volume }
        }
    }

    public func deleteVolume(request: Csi_V1_DeleteVolumeRequest, context: ServerContext) async throws -> Csi_V1_DeleteVolumeResponse {
        try await recorder.record("DeleteVolume", volumeID: request.volumeID) {
            let provisioner = try served("DeleteVolume")
            guard !request.volumeID.isEmpty else { throw CSIError.invalidArgument("empty volume ID in request") }
            let credentials = try Self.credentials(request.secrets)
            try await ids.withLock(request.volumeID) {
                // The CSI spec: an id that names nothing (undecodable, unknown cluster, pool
                // gone) is deleted already. ceph-csi answers INTERNAL for some of these.
                guard let volume = try await provisioner.locate(request.volumeID, credentials: credentials) else {
                    recorder.logger.info("volume does not exist; nothing to delete", metadata: ["volume": "\(request.volumeID)"])
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
    }

    public func controllerExpandVolume(request: Csi_V1_ControllerExpandVolumeRequest, context: ServerContext) async throws -> Csi_V1_ControllerExpandVolumeResponse {
        try await recorder.record("ControllerExpandVolume", volumeID: request.volumeID) {
            let provisioner = try served("ControllerExpandVolume")
            guard !request.volumeID.isEmpty else { throw CSIError.invalidArgument("volume ID cannot be empty") }
            guard request.hasCapacityRange else { throw CSIError.invalidArgument("capacityRange cannot be empty") }
            let size = try CreateVolumeParameters.roundedSize(request.capacityRange)
            let credentials = try Self.credentials(request.secrets)
            let capacity = try await ids.withLock(request.volumeID) {
                guard let volume = try await provisioner.locate(request.volumeID, credentials: credentials) else {
                    throw CSIError.notFound("volume \(request.volumeID) does not exist")
                }
                return try await provisioner.expand(volume, to: size)
            }
            return .with {
                $0.capacityBytes = Int64(capacity)
                // A filesystem grows on the node; a raw block device needs nothing more.
                $0.nodeExpansionRequired = !(request.hasVolumeCapability && request.volumeCapability.isBlock)
            }
        }
    }

    public func validateVolumeCapabilities(request: Csi_V1_ValidateVolumeCapabilitiesRequest, context: ServerContext) async throws -> Csi_V1_ValidateVolumeCapabilitiesResponse {
        try await recorder.record("ValidateVolumeCapabilities", volumeID: request.volumeID) {
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
