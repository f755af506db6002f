import CephAccess
import HostOperations

/// Looks up a cluster's monitors (and RADOS namespace) by clusterID.
public protocol ClusterLookup: Sendable {
    func cluster(_ clusterID: String) throws -> ClusterConfig.Cluster
}

extension ClusterConfig: ClusterLookup {}

/// Everything the Node service touches on the host: the host operations and Ceph behind
/// protocols, so that the RPC logic runs against fakes in unit tests, and the plugin's own
/// device registry and health checks.
public struct NodeHost: Sendable {
    public var mountTable: any MountTableReading
    public var mounter: any Mounting
    public var probe: any BlockDeviceProbing
    public var formatter: any FilesystemFormatting
    public var checker: any FilesystemChecking
    public var resizer: any FilesystemResizing
    public var luks: any LUKSOperating
    /// ceph-csi's encryption KMS config file.
    public var kmsConfig: KMSConfig
    public var clusters: any ClusterLookup
    /// Journal entries and image status, read through librados/librbd.
    public var metadata: any CephMetadataReading
    public var mappers: [MapperKind: any ImageMapping]
    /// The devices (and so the mounts) that are this plugin's.
    public var devices: PluginDevices
    /// Whether a mapped device still does I/O (VolumeCondition).
    public var health: DeviceHealth
    /// The wait for other clients' watches on an image to go before mapping it.
    public var inUseWait: InUseWait
    /// What the kernel's rbd driver can map (tryOtherMounters).
    public var krbdFeatures: KernelRBDFeatures
    /// krbd's read affinity: this node's CRUSH location labels.
    public var readAffinity: ReadAffinity

    public init(
        mountTable: any MountTableReading, mounter: any Mounting, probe: any BlockDeviceProbing,
        formatter: any FilesystemFormatting, checker: any FilesystemChecking, resizer: any FilesystemResizing,
        luks: any LUKSOperating, kmsConfig: KMSConfig, clusters: any ClusterLookup, metadata: any CephMetadataReading,
        mappers: [MapperKind: any ImageMapping], devices: PluginDevices, health: DeviceHealth = DeviceHealth(), inUseWait: InUseWait = InUseWait(),
        krbdFeatures: KernelRBDFeatures = KernelRBDFeatures(), readAffinity: ReadAffinity = ReadAffinity()
    ) {
        self.mountTable = mountTable
        self.mounter = mounter
        self.probe = probe
        self.formatter = formatter
        self.checker = checker
        self.resizer = resizer
        self.luks = luks
        self.kmsConfig = kmsConfig
        self.clusters = clusters
        self.metadata = metadata
        self.mappers = mappers
        self.devices = devices
        self.health = health
        self.inUseWait = inUseWait
        self.krbdFeatures = krbdFeatures
        self.readAffinity = readAffinity
    }

    /// The real host: child processes through `runner`, state (FUSE mounts, logs) under
    /// `stateDirectory`, clusters from ceph-csi's config file, metadata through `metadata`
    /// (librados/librbd, each call bounded by `cephTimeout`, as are device probes).
    public static func system(
        runner: any CommandRunning = ProcessRunner(), stateDirectory: String, clusters: any ClusterLookup, kmsConfig: KMSConfig,
        metadata: any CephMetadataReading, cephTimeout: Duration = .seconds(10), inUseWait: InUseWait = InUseWait(),
        readAffinity: ReadAffinity = ReadAffinity()
    ) -> NodeHost {
        let mountTable = SystemMountTable()
        return NodeHost(
            mountTable: mountTable,
            mounter: SystemMounter(runner: runner),
            // blkid reads the device: on a cluster that does not answer it hangs like a Ceph call.
            probe: BlkidProbe(runner: runner, timeout: cephTimeout),
            formatter: MkfsFormatter(runner: runner),
            checker: FsckChecker(runner: runner),
            resizer: SystemResizer(runner: runner),
            luks: CryptSetup(runner: runner),
            kmsConfig: kmsConfig,
            clusters: clusters,
            metadata: metadata,
            mappers: [
                .krbd: KernelRBDMapper(runner: runner),
                .nbd: NBDMapper(runner: runner),
                .fuse: FuseLoopMapper(runner: runner, mountTable: mountTable, stateDirectory: stateDirectory),
            ],
            devices: PluginDevices(fuseDirectory: FuseLoopMapper.fuseDirectory(in: stateDirectory)),
            inUseWait: inUseWait, readAffinity: readAffinity
        )
    }

    func mapper(_ kind: MapperKind) throws -> any ImageMapping {
        guard let mapper = mappers[kind] else { throw CSIError.invalidArgument("mounter \(kind.rawValue) is not available on this node") }
        return mapper
    }
}
