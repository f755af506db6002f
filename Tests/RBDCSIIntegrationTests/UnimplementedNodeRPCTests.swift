import CSIProtocol
import GRPCCore
import Testing

@Suite("Node RPCs not built yet answer UNIMPLEMENTED")
struct UnimplementedNodeRPCTests {
    @Test func volumeStatsAndExpandAreUnimplemented() async throws {
        let codes = try await TestPlugin.run { _, client -> [RPCError.Code?] in
            let node = Csi_V1_Node.Client(wrapping: client)
            return [
                await code { _ = try await node.nodeGetVolumeStats(.with { $0.volumeID = "v"; $0.volumePath = "/tmp" }) },
                await code { _ = try await node.nodeExpandVolume(.with { $0.volumeID = "v"; $0.volumePath = "/tmp" }) },
            ]
        }
        #expect(codes == Array(repeating: .unimplemented, count: 2))
    }
}

/// The gRPC status code `body` fails with, or nil when it succeeds.
func code(_ body: () async throws -> Void) async -> RPCError.Code? {
    do {
        try await body()
        return nil
    } catch let error as RPCError {
        return error.code
    } catch {
        return .unknown
    }
}
