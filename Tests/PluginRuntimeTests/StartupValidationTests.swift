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
}
