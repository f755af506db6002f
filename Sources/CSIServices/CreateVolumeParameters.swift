import CSIProtocol
import CephAccess

/// What CreateVolume is asked to do, read and checked from the request with ceph-csi's
/// StorageClass parameters and messages (contract §5).
struct CreateVolumeParameters {
    var name: String
    var clusterID: String
    var pool: String
    var dataPool: String?
    var features: [String]?
    var imagePrefix: String
    var encrypted: Bool
    var kmsID: String
    var encryptionType: String
    var owner: String
    /// The metadata KMS's passphrase (secret `encryptionPassphrase`) when the volume's KMS
    /// keeps a sealed key in the image; nil for the secrets default, which stores nothing.
    var metadataKMSPassphrase: String?
    var sizeBytes: UInt64
    /// `objectSize`, `stripeUnit`, `stripeCount`.
    var layout: ImageLayout
    var credentials: CephCredentials
    var capabilities: [Csi_V1_VolumeCapability]
    /// The StorageClass parameters the node gets back in the volume context.
    var contextParameters: [String: String]
    /// The snapshot or volume to copy (a restore or a clone).
    var contentSource: Csi_V1_VolumeContentSource?

    static let oneMiB: UInt64 = 1 << 20
    static let oneGiB: UInt64 = 1 << 30

    static let defaultMaxBytes = ControllerHost.defaultMaxVolumeBytes

    /// ceph-csi's size rule: no range is 1 GiB; below 1 GiB up to the next MiB, else up to the
    /// next GiB. Beyond ceph-csi (the CSI spec): a rounded size above a non-zero limit, or
    /// above `maxBytes`, is OUT_OF_RANGE, and required 0 means the default. No arithmetic here
    /// can overflow: the request's fields are at most 2^63 − 1 and rounding adds less than
    /// 2^30 in 64 unsigned bits.
    static func roundedSize(_ range: Csi_V1_CapacityRange?, maxBytes: UInt64 = defaultMaxBytes) throws -> UInt64 {
        guard let range, range.requiredBytes > 0 || range.limitBytes > 0 else { return min(oneGiB, maxBytes) }
        guard range.requiredBytes >= 0, range.limitBytes >= 0 else { throw CSIError(.outOfRange, "capacity range must not be negative") }
        let required = range.requiredBytes > 0 ? UInt64(range.requiredBytes) : min(oneGiB, UInt64(range.limitBytes))
        let unit = required < oneGiB ? oneMiB : oneGiB
        let size = (required + unit - 1) / unit * unit
        if range.limitBytes > 0 && size > UInt64(range.limitBytes) {
            throw CSIError(.outOfRange, "size \(required) rounded up to \(size) bytes exceeds the limit of \(range.limitBytes) bytes")
        }
        guard size <= maxBytes else {
            throw CSIError(.outOfRange, "size \(required) rounded up to \(size) bytes exceeds the largest volume this driver makes, \(maxBytes) bytes (--max-volume-size)")
        }
        return size
    }

    /// imageFeatures with ceph-csi's rules: known names, and each one's prerequisites.
    static func features(_ text: String, mounter: String) throws -> [String] {
        let features = text.split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
        let requires = ["object-map": "exclusive-lock", "fast-diff": "object-map", "journaling": "exclusive-lock"]
        for feature in features {
            guard RBDImages.featureBits[feature] != nil else { throw CSIError.invalidArgument("invalid feature \(feature)") }
            if let needed = requires[feature], !features.contains(needed) {
                throw CSIError.invalidArgument("feature \(feature) requires \(needed) to be set")
            }
            if feature == "journaling" && mounter != "rbd-nbd" {
                throw CSIError.invalidArgument("feature journaling requires mounter rbd-nbd to be set")
            }
        }
        return features
    }

    /// `request` read and checked, and the metadata KMS's passphrase found (in the request's
    /// secrets, or in the Kubernetes Secret the KMS names, for the PVC's namespace).
    static func read(_ request: Csi_V1_CreateVolumeRequest, kmsConfig: KMSConfig, maxBytes: UInt64 = defaultMaxBytes) async throws -> CreateVolumeParameters {
        var parameters = try CreateVolumeParameters(request, maxBytes: maxBytes)
        if parameters.encrypted {
            let kms = try await EncryptionKMS.resolve(
                kmsID: parameters.kmsID, secrets: request.secrets, config: kmsConfig, tenant: parameters.owner, passphraseRequired: false
            )
            if case .metadata(let passphrase) = kms { parameters.metadataKMSPassphrase = passphrase }
        }
        return parameters
    }

    /// `request` read and checked; the KMS is not consulted (`read` does that).
    init(_ request: Csi_V1_CreateVolumeRequest, maxBytes: UInt64 = defaultMaxBytes) throws {
        guard !request.name.isEmpty else { throw CSIError.invalidArgument("volume Name cannot be empty") }
        try Self.checkStrings(request)
        guard !request.volumeCapabilities.isEmpty else { throw CSIError.invalidArgument("volume Capabilities cannot be empty") }
        name = request.name
        capabilities = request.volumeCapabilities
        for capability in capabilities {
            guard capability.accessType != nil else { throw CSIError.invalidArgument("volume capability must have block or mount access type") }
            let mode = capability.accessMode.mode
            if (mode == .multiNodeMultiWriter || mode == .multiNodeSingleWriter) && !capability.isBlock {
                throw CSIError.invalidArgument("multi node access modes are only supported on rbd `block` type volumes")
            }
            if (mode == .singleNodeReaderOnly || mode == .multiNodeReaderOnly) && !request.hasVolumeContentSource {
                throw CSIError.invalidArgument("reader only access mode requires a volume content source")
            }
        }
        contentSource = request.hasVolumeContentSource ? request.volumeContentSource : nil
        let parameters = request.parameters
        func nonEmpty(_ key: String, _ message: String) throws -> String? {
            guard let value = parameters[key] else { return nil }
            guard !value.isEmpty else { throw CSIError.invalidArgument(message) }
            return value
        }
        guard let clusterID = parameters["clusterID"], !clusterID.isEmpty else {
            throw CSIError.invalidArgument("empty cluster ID to provision volume from")
        }
        self.clusterID = clusterID
        if parameters["topologyConstrainedPools"] != nil {
            throw CSIError.invalidArgument("topologyConstrainedPools is not supported yet")
        }
        guard let pool = parameters["pool"], !pool.isEmpty else {
            throw CSIError.invalidArgument("missing or empty pool name to provision volume from")
        }
        self.pool = pool
        dataPool = try nonEmpty("dataPool", "empty datapool name to provision volume from")
        imagePrefix = try nonEmpty("volumeNamePrefix", "empty volume name prefix to provision volume from") ?? JournalEntry.defaultImagePrefix
        let mounter = parameters["mounter"] ?? "rbd"
        features = try nonEmpty("imageFeatures", "empty imageFeatures parameter").map { try Self.features($0, mounter: mounter) }
        _ = try nonEmpty("radosNamespace", "empty radosNamespace parameter")
        switch parameters["encrypted"]?.lowercased() {
        case nil, "", "false": encrypted = false
        case "true": encrypted = true
        case let other?: throw CSIError.invalidArgument("encrypted must be true or false, not \(other)")
        }
        kmsID = parameters["encryptionKMSID"] ?? ""
        encryptionType = parameters["encryptionType"] ?? "block"
        if encrypted { try EncryptionKMS.requireBlockEncryption(encryptionType, of: "volume \(request.name)") }
        metadataKMSPassphrase = nil
        owner = parameters["csi.storage.k8s.io/pvc/namespace"] ?? ""
        sizeBytes = try Self.roundedSize(request.hasCapacityRange ? request.capacityRange : nil, maxBytes: maxBytes)
        layout = try Self.layout(parameters)
        guard let credentials = CephCredentials(secrets: request.secrets) else {
            throw CSIError.invalidArgument("provisioner secrets must contain userID and userKey")
        }
        self.credentials = credentials
        contextParameters = parameters.filter { $0.key != "topologyConstrainedPools" && !$0.key.hasPrefix("csi.storage.k8s.io/") }
    }

    /// ceph-csi's `objectSize`, `stripeUnit` and `stripeCount` (decimal bytes and a count),
    /// checked against librbd's rules before anything is written.
    static func layout(_ parameters: [String: String]) throws -> ImageLayout {
        func number(_ key: String) throws -> UInt64? {
            guard let text = parameters[key] else { return nil }
            guard let value = UInt64(text) else { throw CSIError.invalidArgument("failed to parse \(key) \(text): not a whole number") }
            return value
        }
        let layout = ImageLayout(objectSize: try number("objectSize"), stripeUnit: try number("stripeUnit"), stripeCount: try number("stripeCount"))
        if let problem = layout.problem { throw CSIError.invalidArgument(problem) }
        return layout
    }

    /// The request's strings that reach Ceph, against `CephStringRule`: names Ceph parses
    /// (pools, namespace, prefix) and the text stored in the journal or handed to librados.
    static func checkStrings(_ request: Csi_V1_CreateVolumeRequest) throws {
        try CephStringRule.text.require(request.name, as: "volume name")
        let parameters = request.parameters
        for key in ["pool", "dataPool", "volumeNamePrefix", "radosNamespace"] {
            if let value = parameters[key] { try CephStringRule.name.require(value, as: key) }
        }
        for key in ["clusterID", "encryptionKMSID", "encryptionType", "csi.storage.k8s.io/pvc/namespace", "imageFeatures", "mounter"] {
            if let value = parameters[key] { try CephStringRule.text.require(value, as: key) }
        }
        for key in ["userID", "adminId"] {
            if let value = request.secrets[key] { try CephStringRule.text.require(value, as: "secret \(key)") }
        }
    }

    /// The journal keys beyond name and image that ceph-csi writes for this request.
    var journalValues: [String: String] {
        var values: [String: String] = [:]
        if !owner.isEmpty { values[JournalEntry.Key.owner] = owner }
        if encrypted {
            values[JournalEntry.Key.kmsID] = kmsID.isEmpty ? "default" : kmsID
            values[JournalEntry.Key.encryptionType] = encryptionType
        }
        return values
    }
}

extension Csi_V1_VolumeContentSource {
    /// The snapshot or volume id it names.
    var id: String? {
        switch type {
        case .snapshot(let snapshot)?: return snapshot.snapshotID
        case .volume(let volume)?: return volume.volumeID
        case nil: return nil
        }
    }

    /// A restore (a snapshot), not a clone (a volume).
    var isSnapshot: Bool {
        if case .snapshot? = type { return true }
        return false
    }
}
