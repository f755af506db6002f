import ArgumentParser
import CSIServices
import CephAccess
import FoundationEssentials
import KubernetesAccess
import Logging
import PluginRuntime

/// Runs the plugin: parses and checks the flags (as in ceph-csi's `cephcsi` binary) into a
/// `PluginConfiguration` and hands it to `PluginApplication`, the composition root.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the CSI Identity, Node and Controller services on a unix socket (the default)."
    )

    /// The ceph-csi flags this plugin accepts and ignores, as `RBDCSI.main` dropped them from
    /// this process's command line (the same normalization, read again: nothing is handed over
    /// through shared state).
    static var ignoredFlags: [String] { GoStyleArguments(Array(CommandLine.arguments.dropFirst())).ignored }

    @Option(help: "rbd (the plugin) or liveness (ceph-csi's liveness sidecar: Probe the --endpoint every --polltime and serve csi_liveness).")
    var type: String = "rbd"

    @Option(help: "TCP port of the Prometheus metrics (rbd: served only when given; liveness: default 8080).")
    var metricsport: Int?

    @Option(help: "HTTP path of the Prometheus metrics.")
    var metricspath: String = "/metrics"

    @Option(help: "liveness: time between probes, a Go duration (60s, 1m).")
    var polltime: String = "60s"

    @Option(help: "liveness: time limit of each probe, a Go duration (3s).")
    var timeout: String = "3s"

    @Option(help: "CSI endpoint: unix://PATH.")
    var endpoint: String = "unix:///tmp/csi.sock"

    @Option(help: "Node id reported by NodeGetInfo (required with --nodeserver).")
    var nodeid: String = ""

    @Flag(help: "Serve the Node service (--nodeserver or --nodeserver=true).")
    var nodeserver = false

    @Flag(help: "Serve the Controller service: create, delete, validate and expand volumes (--controllerserver=true).")
    var controllerserver = false

    @Option(help: "CSI driver name, a DNS-1123 name of at most 63 characters.")
    var drivername: String = "rbd.csi.ceph.com"

    @Option(help: "Instance id of this plugin's journal entries (csi.volumes.<instanceid>).")
    var instanceid: String = "default"

    @Option(help: "Clone chains this deep are flattened before a new clone or snapshot (1-14, ceph-csi's default 8).")
    var rbdhardmaxclonedepth: Int = 8

    @Option(help: "Clone chains this deep are flattened in the background (at most the hard depth; default 4).")
    var rbdsoftmaxclonedepth: Int = 4

    @Option(help: "More snapshots than this on an image refuse a new snapshot or clone of it (1-500, default 450).")
    var maxsnapshotsonimage: Int = 450

    @Option(help: "ceph-csi's early-flatten threshold (at most --maxsnapshotsonimage; default 250): accepted and range-checked; clones are not flattened early yet.")
    var minsnapshotsonimage: Int = 250

    @Option(name: .customLong("max-volume-size"), help: "The largest volume the controller creates or expands to, in bytes or with a binary suffix (Ki to Ei); larger requests are OUT_OF_RANGE. Default 1Pi.")
    var maxVolumeSize: String = "1Pi"

    @Option(help: "Comma-separated node labels for topology, each LABEL or LABEL=VALUE.")
    var domainlabels: String = ""

    @Option(name: .customLong("node-labels-file"), help: "File of key=value node labels (values for --domainlabels); without it they are read from the Node object.")
    var nodeLabelsFile: String?

    @Flag(name: .customLong("enable-read-affinity"), help: "krbd reads from the nearest OSD, located by --crush-location-labels (where the cluster config enables readAffinity).")
    var enableReadAffinity = false

    @Option(name: .customLong("crush-location-labels"), help: "Comma-separated node labels giving this node's CRUSH location (with --enable-read-affinity).")
    var crushLocationLabels: String = ""

    @Option(help: "kubelet's CSI directory, where it stages volumes (for healing rbd-nbd volumes at start).")
    var stagingpath: String = "/var/lib/kubelet/plugins/kubernetes.io/csi/"

    @Option(name: .customLong("cluster-config"), help: "ceph-csi cluster config file (clusterID → monitors).")
    var clusterConfig: String = ClusterConfig.defaultPath

    @Option(name: .customLong("statedir"), help: "Directory for the plugin's own state: rbd-fuse mounts and their logs.")
    var stateDirectory: String = "/var/lib/rbdcsi"

    @Option(name: .customLong("kms-config"), help: "ceph-csi encryption KMS config file (encryptionKMSID → encryptionKMSType).")
    var kmsConfig: String = KMSConfig.defaultPath

    @Option(name: .customLong("ceph-timeout"), help: "Seconds each librados/librbd call (connect, journal read, image status) may take.")
    var cephTimeout: Int = 10

    @Flag(name: .customLong("check-flags"), help: .hidden)
    var checkFlagsOnly = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level?

    @Option(name: .customLong("v"), help: "klog verbosity, as in ceph-csi (4 = debug, 5 = trace).")
    var verbosity: Int?

    /// Flag combinations that cannot serve; each a one-line start-up error.
    private func checkFlags() throws(PluginRuntimeError) {
        guard type == "rbd" || type == "liveness" else {
            throw .badFlag("unsupported --type \(type): this plugin implements rbd and liveness")
        }
        if let metricsport, !(1...65535).contains(metricsport) {
            throw .badFlag("--metricsport must be 1 to 65535, not \(metricsport)")
        }
        guard metricspath.hasPrefix("/"), !metricspath.contains(where: \.isWhitespace) else {
            throw .badFlag("--metricspath must be an absolute HTTP path such as /metrics, not \(metricspath)")
        }
        if type == "liveness" {
            guard (GoDuration.parse(polltime) ?? .zero) > .zero else {
                throw .badFlag("--polltime must be a positive Go duration such as 60s, not \(polltime)")
            }
            guard (GoDuration.parse(timeout) ?? .zero) > .zero else {
                throw .badFlag("--timeout must be a positive Go duration such as 3s, not \(timeout)")
            }
            return
        }
        guard nodeserver || controllerserver else {
            throw .badFlag("nothing to serve: pass --nodeserver=true and/or --controllerserver=true")
        }
        guard !nodeserver || !nodeid.isEmpty else {
            throw .badFlag("--nodeid is required with --nodeserver")
        }
        guard (1...600).contains(cephTimeout) else {
            throw .badFlag("--ceph-timeout must be 1 to 600 seconds, not \(cephTimeout)")
        }
    }

    func run() async throws {
        do {
            try checkFlags()
        } catch {
            throw StartupFailure(message: error.description)
        }
        let level = logLevel ?? verbosity.map(LogSetup.level(klogVerbosity:)) ?? .info
        LogSetup.bootstrap(level: level)
        let logger = Logger(label: "rbdcsi")
        do {
            try await serve(logger: logger)
        } catch let error as PluginRuntimeError {
            logger.critical("\(error.description)")
            throw StartupFailure(message: error.description)
        }
    }

    /// The metrics server's address: ceph-csi binds `POD_IP` when set, else every address.
    private func metricsEndpoint(port: Int) -> MetricsEndpoint {
        let host = ProcessInfo.processInfo.environment["POD_IP"].flatMap { $0.isEmpty ? nil : $0 } ?? "0.0.0.0"
        return MetricsEndpoint(host: host, port: port, path: metricspath)
    }

    /// ceph-csi's KMS ConfigMap (`KMS_CONFIGMAP_NAME`, default `csi-kms-connection-details`, in
    /// `POD_NAMESPACE`): read on every use where the `--kms-config` file is not mounted, in a pod.
    private func kmsConfigMap(inPod: Bool, logger: Logger) -> (name: String, namespace: String)? {
        let environment = ProcessInfo.processInfo.environment
        guard inPod, let namespace = environment["POD_NAMESPACE"], !namespace.isEmpty else { return nil }
        let name = environment["KMS_CONFIGMAP_NAME"].flatMap { $0.isEmpty ? nil : $0 } ?? "csi-kms-connection-details"
        logger.info("KMS config: the file, or else this ConfigMap, read on each use", metadata: ["file": "\(kmsConfig)", "configMap": "\(namespace)/\(name)"])
        return (name, namespace)
    }

    /// A size flag's bytes (`ByteCountFlag`), or the flag error naming it.
    static func byteCount(_ text: String, flag: String) throws -> UInt64 {
        guard let bytes = ByteCountFlag.parse(text) else {
            throw PluginRuntimeError.badFlag("\(flag) \(text): not a size (bytes, or a number with Ki, Mi, Gi, Ti, Pi or Ei) from 1 byte to \(ByteCountFlag.maximum)")
        }
        return bytes
    }

    private func serve(logger: Logger) async throws {
        if type == "liveness" {
            let endpoint = try PluginEndpoint(parsing: endpoint)
            if checkFlagsOnly {
                print("flags OK")
                return
            }
            return try await PluginApplication.runLiveness(
                endpoint: endpoint, pollTime: GoDuration.parse(polltime) ?? .seconds(60), timeout: GoDuration.parse(timeout) ?? .seconds(3),
                metrics: metricsEndpoint(port: metricsport ?? 8080), logger: logger
            )
        }
        guard let configuration = try configuration(logger: logger) else { return }
        try await PluginApplication(configuration: configuration, logger: logger).run()
    }

    /// The plugin's configuration from the flags and the environment, every flag checked; nil
    /// with `--check-flags` (after printing the verdict), which starts nothing.
    private func configuration(logger: Logger) throws -> PluginConfiguration? {
        let endpoint = try PluginEndpoint(parsing: endpoint)
        try DriverName.validate(drivername)
        // Local checks first: nothing is asked of the Kubernetes API for flags that cannot serve.
        let cloneLimits: CloneLimits
        do {
            cloneLimits = try CloneLimits(
                hardDepth: rbdhardmaxclonedepth, softDepth: rbdsoftmaxclonedepth, maxSnapshots: maxsnapshotsonimage, minSnapshots: minsnapshotsonimage
            )
        } catch {
            throw PluginRuntimeError.badFlag("\(error)")
        }
        let maxVolumeBytes = try Self.byteCount(maxVolumeSize, flag: "--max-volume-size")
        var fileLabels: [String: String]?
        if let nodeLabelsFile {
            guard let text = try? String(contentsOfFile: nodeLabelsFile, encoding: .utf8) else {
                throw PluginRuntimeError.badFlag("--node-labels-file: cannot read \(nodeLabelsFile)")
            }
            fileLabels = TopologyLabels.parseLabelsFile(text)
        }
        if checkFlagsOnly {
            // For deployment checks: the flags parse and validate; nothing is started or asked.
            _ = try TopologyLabels.segments(domainLabels: domainlabels, driverName: drivername, nodeLabels: fileLabels ?? [:])
            print("flags OK" + (Self.ignoredFlags.isEmpty ? "" : "; ignored ceph-csi flags: \(Self.ignoredFlags.joined(separator: ","))"))
            return nil
        }
        if !Self.ignoredFlags.isEmpty {
            logger.warning("ignoring ceph-csi flags this plugin does not use", metadata: ["flags": "\(Self.ignoredFlags.joined(separator: ","))"])
        }
        let stateDirectory: String
        do {
            stateDirectory = try StateDirectory.prepare(self.stateDirectory)
        } catch {
            throw PluginRuntimeError.badFlag("--statedir \(self.stateDirectory): \(error)")
        }
        // The Kubernetes API, where the plugin runs in a pod with a service account.
        var kubernetes: KubernetesConfig?
        do {
            kubernetes = try KubernetesConfig.inCluster(environment: ProcessInfo.processInfo.environment)
        } catch {
            logger.info("not using the Kubernetes API", metadata: ["reason": "\(error)"])
        }
        let info = PluginInfo(driverName: drivername, version: PluginVersion.current, nodeID: nodeid, servesController: controllerserver)
        var services = PluginServices.Configuration(
            info: info, servesNode: nodeserver, stateDirectory: stateDirectory, clusterConfigPath: clusterConfig,
            kmsConfigPath: kmsConfig, cephTimeout: .seconds(cephTimeout), instanceID: instanceid, cloneLimits: cloneLimits,
            kmsConfigMap: kmsConfigMap(inPod: kubernetes != nil, logger: logger)
        )
        services.maxVolumeBytes = maxVolumeBytes
        return PluginConfiguration(
            endpoint: endpoint, services: services,
            labels: NodeLabelSettings(domainLabels: domainlabels, file: fileLabels, crushLocationLabels: enableReadAffinity ? crushLocationLabels : nil),
            stagingRoot: stagingpath, metrics: metricsport.map(metricsEndpoint(port:)), kubernetes: kubernetes
        )
    }
}

/// A start-up error, printed as one line; the process exits with status 1.
struct StartupFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
