import CSIProtocol
import Foundation
import GRPCCore
import GRPCProtobuf
import Logging
import CSIServices
import PluginRuntime
import Testing

@Suite("Identity, Node info and Controller capabilities over the unix socket")
struct IdentityAndNodeInfoTests {
    @Test func pluginInfoNamesTheDriverAndVersion() async throws {
        let response = try await TestPlugin.run { _, client in
            try await Csi_V1_Identity.Client(wrapping: client).getPluginInfo(.init())
        }
        #expect(response.name == "rbd.csi.ceph.com")
        #expect(response.vendorVersion == "0.1.0")
    }

    @Test func pluginCapabilitiesAreControllerOnlineExpansionAndTopology() async throws {
        let response = try await TestPlugin.run { _, client in
            try await Csi_V1_Identity.Client(wrapping: client).getPluginCapabilities(.init())
        }
        #expect(response.capabilities.count == 3)
        #expect(response.capabilities.contains { $0.service.type == .controllerService })
        #expect(response.capabilities.contains { $0.volumeExpansion.type == .online })
        #expect(response.capabilities.contains { $0.service.type == .volumeAccessibilityConstraints })
    }

    @Test func nodeOnlyPluginWithoutTopologyAdvertisesNeitherControllerNorTopology() async throws {
        let info = PluginInfo(driverName: "rbd.csi.ceph.com", version: "test", nodeID: "n1")
        let services = PluginServices.make(info: info, node: nil, controller: nil, logger: Logger(label: "test"))
        let response = try await TestPlugin.run(services: services) { _, client in
            try await Csi_V1_Identity.Client(wrapping: client).getPluginCapabilities(.init())
        }
        #expect(response.capabilities.map(\.volumeExpansion.type) == [.online])
        let controller = try await TestPlugin.run(services: services) { _, client in
            try await Csi_V1_Controller.Client(wrapping: client).controllerGetCapabilities(.init())
        }
        #expect(controller.capabilities.isEmpty)
    }

    @Test func probeIsReadyWhenTheToolsAreThere() async throws {
        let response = try await TestPlugin.run { _, client in
            try await Csi_V1_Identity.Client(wrapping: client).probe(.init())
        }
        #expect(response.hasReady)
        #expect(response.ready.value == true)
    }

    @Test func nodeCapabilitiesMatchTheContract() async throws {
        let response = try await TestPlugin.run { _, client in
            try await Csi_V1_Node.Client(wrapping: client).nodeGetCapabilities(.init())
        }
        let types = Set(response.capabilities.map(\.rpc.type))
        #expect(types == [.stageUnstageVolume, .getVolumeStats, .expandVolume, .volumeCondition, .singleNodeMultiWriter])
    }

    @Test func nodeInfoReportsNodeIDAndTopology() async throws {
        let response = try await TestPlugin.run { _, client in
            try await Csi_V1_Node.Client(wrapping: client).nodeGetInfo(.init())
        }
        #expect(response.nodeID == "test-node-1")
        #expect(response.accessibleTopology.segments == ["topology.rbd.csi.ceph.com/zone": "zone-a"])
    }

    @Test func controllerCapabilitiesAreCephCSIsFour() async throws {
        let response = try await TestPlugin.run { _, client in
            try await Csi_V1_Controller.Client(wrapping: client).controllerGetCapabilities(.init())
        }
        #expect(response.capabilities.map(\.rpc.type) == [.createDeleteVolume, .createDeleteSnapshot, .cloneVolume, .expandVolume])
    }

    @Test func otherControllerRPCsAreUnimplemented() async throws {
        // ListVolumes is not in our compact proto: call it by name with an empty message.
        let code = try await TestPlugin.run { _, client -> RPCError.Code? in
            let method = MethodDescriptor(fullyQualifiedService: "csi.v1.Controller", method: "ListVolumes")
            do {
                _ = try await client.unary(
                    request: ClientRequest(message: Csi_V1_ProbeRequest()),
                    descriptor: method,
                    serializer: ProtobufSerializer<Csi_V1_ProbeRequest>(),
                    deserializer: ProtobufDeserializer<Csi_V1_ProbeResponse>(),
                    options: .defaults
                ) { try $0.message }
                return nil
            } catch let error as RPCError {
                return error.code
            }
        }
        #expect(code == .unimplemented)
    }
}
