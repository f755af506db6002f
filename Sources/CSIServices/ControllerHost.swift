import CephAccess

/// Everything the Controller service touches, each behind a protocol so the RPC logic can run
/// against fakes: the cluster config, the journal and image writes, image status and metadata.
public struct ControllerHost: Sendable {
    public var clusters: any ClusterLookup
    public var provisioner: any VolumeProvisioning
    public var metadata: any CephMetadataReading
    /// The journal of this driver instance (`--instanceid`).
    public var journal: VolumeJournal
    /// ceph-csi's encryption KMS config file.
    public var kmsConfig: KMSConfig
    public var cloneLimits: CloneLimits
    /// The largest volume CreateVolume and ControllerExpandVolume make (`--max-volume-size`).
    public var maxVolumeBytes: UInt64

    /// The default of `--max-volume-size`: 1 PiB. ceph-csi has no limit; without one, a size
    /// near 2^63 overflowed the size arithmetic, and an image of exabytes never finishes
    /// deleting.
    public static let defaultMaxVolumeBytes: UInt64 = 1 << 50

    public init(
        clusters: any ClusterLookup, provisioner: any VolumeProvisioning, metadata: any CephMetadataReading, journal: VolumeJournal,
        kmsConfig: KMSConfig, cloneLimits: CloneLimits = .defaults, maxVolumeBytes: UInt64 = ControllerHost.defaultMaxVolumeBytes
    ) {
        self.clusters = clusters
        self.provisioner = provisioner
        self.metadata = metadata
        self.journal = journal
        self.kmsConfig = kmsConfig
        self.cloneLimits = cloneLimits
        self.maxVolumeBytes = maxVolumeBytes
    }

    /// Where and as whom to reach cluster `clusterID`, with the volume's RADOS namespace.
    func access(_ clusterID: String, credentials: CephCredentials) async throws -> (ClusterAccess, radosNamespace: String) {
        let cluster = try clusters.cluster(clusterID)
        return (await ClusterAccess.resolving(cluster, credentials: credentials), cluster.rbd?.radosNamespace ?? "")
    }
}
