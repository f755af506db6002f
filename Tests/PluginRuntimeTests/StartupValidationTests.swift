import Logging
import PluginRuntime
import Testing

@Suite("Start-up validation: endpoint, driver name, topology")
struct StartupValidationTests {
    @Test func unixEndpointsParse() throws {
        #expect(try PluginEndpoint(parsing: "unix:///csi/csi.sock").socketPath == "/csi/csi.sock")
    }

    @Test(arguments: ["tcp://127.0.0.1:1000", "unix://relative.sock", "/csi/csi.sock", "unix://" + String(repeating: "/x", count: 60)])
    func badEndpointsAreRefused(_ text: String) {
        #expect(throws: PluginRuntimeError.self) { try PluginEndpoint(parsing: text) }
    }

    @Test(arguments: ["rbd.csi.ceph.com", "a", "my-driver.example.org"])
    func validDriverNames(_ name: String) throws {
        try DriverName.validate(name)
    }

    @Test(arguments: ["", "Rbd.csi", "-rbd", "rbd-", "rbd..x", "rbd_csi", String(repeating: "a", count: 64)])
    func invalidDriverNames(_ name: String) {
        #expect(throws: PluginRuntimeError.self) { try DriverName.validate(name) }
    }

    @Test func domainLabelsBecomeTopologyKeys() throws {
        let segments = try TopologyLabels.segments(
            domainLabels: "topology.kubernetes.io/zone=z1,failure-domain/rack",
            driverName: "rbd.csi.ceph.com",
            nodeLabels: TopologyLabels.parseLabelsFile("# labels\nfailure-domain/rack=\"r7\"\n")
        )
        #expect(segments == ["topology.rbd.csi.ceph.com/zone": "z1", "topology.rbd.csi.ceph.com/rack": "r7"])
    }

    @Test func domainLabelWithoutValueIsAnError() {
        #expect(throws: PluginRuntimeError.self) {
            try TopologyLabels.segments(domainLabels: "topology.kubernetes.io/zone", driverName: "d", nodeLabels: [:])
        }
    }

    /// ServiceGroup names its services with `"\(service)"`: each has a short description, not
    /// Swift's reflection of its stored properties (the whole composition graph for the server),
    /// which cost a third of the CPU time of every start.
    @Test func servicesNameThemselvesWithoutReflection() throws {
        let endpoint = try PluginEndpoint(parsing: "unix:///csi/csi.sock")
        let logger = Logger(label: "test")
        let metrics = PluginMetrics(sources: nil, version: "test")
        #expect("\(PluginServer(endpoint: endpoint, services: [], logger: logger))" == "PluginServer(unix:///csi/csi.sock)")
        #expect("\(LivenessProber(endpoint: endpoint, pollTime: .seconds(60), timeout: .seconds(3), metrics: metrics, logger: logger))" == "LivenessProber(unix:///csi/csi.sock)")
        #expect("\(MetricsServer(host: "0.0.0.0", port: 8080, path: "/metrics", metrics: metrics, logger: logger))" == "MetricsServer(0.0.0.0:8080/metrics)")
    }
}
