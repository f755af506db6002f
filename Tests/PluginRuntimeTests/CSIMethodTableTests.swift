import CSIProtocol
import CSIServices
import GRPCTransport
import PluginRuntime
import Testing

/// The CSI services' entries in the transport's method table.
@Suite struct CSIMethodTableTests {
    @Test func theTableServesEveryCSIMethodOfTheProto() {
        let info = PluginInfo(driverName: "d", version: "v", nodeID: "n", topology: [:], servesController: true)
        let table = GRPCMethodTable(PluginServices.make(info: info, node: nil, controller: nil, logger: .init(label: "t")))
        let expected = Csi_V1_Identity.Method.descriptors + Csi_V1_Controller.Method.descriptors
        #expect(table.names == expected.map(\.fullyQualifiedMethod).sorted())
        #expect(table.method(atPath: "/csi.v1.Identity/Probe") != nil)
        #expect(table.method(atPath: "csi.v1.Identity/Probe") == nil)
    }
}
