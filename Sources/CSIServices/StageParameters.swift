import CSIProtocol
import CephAccess
import HostOperations

/// What NodeStageVolume is asked to do, read and checked from the request.
struct StageParameters {
    var volumeID: String
    var stagingPath: String
    var capability: Csi_V1_VolumeCapability
    var credentials: CephCredentials
    var staticVolume: Bool
    /// The image of a static volume: the volume id, or for an in-tree migrated volume
    /// (`migration=true`) the context's `imageName`, as ceph-csi stages them.
    var staticImageName: String
    /// A blank static volume is formatted, as ceph-csi's FormatAndMount does (its documented
    /// workflow: a blank image and a static PV for it); `formatStaticVolume=false` refuses
    /// instead. A device that holds anything is never formatted either way.
    var formatStaticVolume: Bool
    var clusterID: String
    var pool: String
    var mapper: MapperKind
    var mapOptions: MapOptions
    var unmapOptions: MapOptions
    var mkfsOptions: [String]?
    var fsType: String
    /// Volume context `encrypted=true`: LUKS2 between the mapped device and the filesystem.
    var encrypted: Bool
    /// Volume context `encryptionKMSID`; empty for the secrets default.
    var encryptionKMSID: String
    var secrets: [String: String]
    /// rbd-nbd's log directory (`cephLogDir`, default /var/log/ceph) and what becomes of the
    /// log on unstage (`cephLogStrategy`: remove, compress or preserve; default remove).
    var cephLogDir: String
    var cephLogStrategy: String
    /// ceph-csi's `tryOtherMounters`: an image with features the kernel's rbd driver lacks is
    /// mapped with rbd-nbd instead of being refused.
    var tryOtherMounters: Bool

    /// The staging mount point `S/<volID>`.
    var target: String { "\(stagingPath)/\(volumeID)" }

    /// A boolean volume-context key, as Go's strconv.ParseBool reads it; absent is false.
    private static func flag(_ key: String, in context: [String: String]) throws -> Bool {
        switch context[key]?.lowercased() {
        case nil, "", "false", "0", "f": return false
        case "true", "1", "t": return true
        case let other?: throw CSIError.invalidArgument("\(key) must be true or false, not \(other)")
        }
    }

    static let supportedFilesystems: Set<String> = ["ext4", "xfs"]

    init(_ request: Csi_V1_NodeStageVolumeRequest) throws {
        capability = try NodeRequestValidation.capability(request.volumeCapability, present: request.hasVolumeCapability)
        try NodeRequestValidation.volumeID(request.volumeID)
        try NodeRequestValidation.stagingPath(request.stagingTargetPath)
        guard !request.secrets.isEmpty else { throw CSIError.invalidArgument("stage secrets cannot be nil or empty") }
        guard HostPaths.isDirectory(request.stagingTargetPath) else {
            throw CSIError.invalidArgument("staging path \(request.stagingTargetPath) does not exist on node")
        }
        if capability.accessMode.mode == .multiNodeMultiWriter && !capability.isBlock {
            throw CSIError.invalidArgument("rbd: RWX access mode request is only valid for volumes with access type `block`")
        }
        guard let credentials = CephCredentials(secrets: request.secrets) else {
            throw CSIError.invalidArgument("stage secrets must contain userID and userKey")
        }
        self.credentials = credentials
        secrets = request.secrets
        volumeID = request.volumeID
        stagingPath = request.stagingTargetPath

        let context = request.volumeContext
        staticVolume = try Self.flag("staticVolume", in: context)
        formatStaticVolume = context["formatStaticVolume"] == nil ? true : try Self.flag("formatStaticVolume", in: context)
        encrypted = try Self.flag("encrypted", in: context)
        encryptionKMSID = context["encryptionKMSID"] ?? ""
        // ceph-csi's fscrypt mode: refused before anything is touched, never LUKS-formatted.
        if encrypted, let type = context["encryptionType"], !type.isEmpty {
            try EncryptionKMS.requireBlockEncryption(type, of: "volume \(request.volumeID)")
        }
        clusterID = context["clusterID"] ?? ""
        guard !clusterID.isEmpty else { throw CSIError.invalidArgument("clusterID missing in volume context") }
        pool = context["pool"] ?? ""
        if staticVolume && pool.isEmpty { throw CSIError.invalidArgument("pool missing in volume context of static volume") }
        staticImageName = request.volumeID
        if staticVolume && context["migration"] == "true" {
            guard let image = context["imageName"], !image.isEmpty, !image.contains("/") else {
                throw CSIError.invalidArgument("imageName missing or invalid in the volume context of migrated volume \(request.volumeID)")
            }
            staticImageName = image
        }
        let mounterName = context["mounter"] ?? MapperKind.krbd.rawValue
        guard let mapper = MapperKind(rawValue: mounterName.isEmpty ? MapperKind.krbd.rawValue : mounterName) else {
            throw CSIError.invalidArgument("unknown mounter \(mounterName); use rbd, rbd-nbd or rbd-fuse")
        }
        self.mapper = mapper
        tryOtherMounters = try Self.flag("tryOtherMounters", in: context)
        do {
            mapOptions = try MapOptions(parsing: context["mapOptions"] ?? "")
            unmapOptions = try MapOptions(parsing: context["unmapOptions"] ?? "")
        } catch {
            throw CSIError.invalidArgument(error.description)
        }
        var logDir = context["cephLogDir"].flatMap { $0.isEmpty ? nil : $0 } ?? CephLogFile.defaultDirectory
        while logDir.count > 1 && logDir.hasSuffix("/") { logDir.removeLast() }
        cephLogDir = logDir
        // The plugin runs as root and rbd-nbd writes there: an absolute path without links or `..`.
        if let problem = CanonicalPath.problem(with: cephLogDir) {
            throw CSIError.invalidArgument("cephLogDir \(cephLogDir): \(problem)")
        }
        cephLogStrategy = (context["cephLogStrategy"].flatMap { $0.isEmpty ? nil : $0 } ?? CephLogFile.defaultStrategy).lowercased()
        fsType = capability.mount.fsType.isEmpty ? "ext4" : capability.mount.fsType
        if !capability.isBlock && !Self.supportedFilesystems.contains(fsType) {
            throw CSIError.invalidArgument("unsupported fsType \(fsType); supported: ext4, xfs")
        }
        if let text = context["mkfsOptions"], !text.trimmingWhitespace().isEmpty {
            let options = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if !capability.isBlock, let problem = MkfsOptionPolicy.problem(fsType: fsType, options: options) {
                throw CSIError.invalidArgument(problem)
            }
            mkfsOptions = options
        }
    }
}
