import CSIProtocol
import CSIServices
import GRPCCore
import SwiftProtobuf

/// The unary methods the plugin serves, by their HTTP/2 path (`/csi.v1.Node/NodeGetCapabilities`):
/// each decodes its request, calls the service, and encodes the response.
///
/// CSI has only unary methods, so the server needs no streaming machinery: a handler is a
/// function from request bytes to response bytes. Errors are thrown as they are; the server maps
/// them to a status with `RPCError(mapping:)`, the one place that does.
public struct GRPCMethodTable: Sendable {
    /// One method: its descriptor and its body over serialized messages.
    public struct Method: Sendable {
        public let descriptor: MethodDescriptor
        /// Whether the method runs on its connection's event loop rather than the cooperative
        /// pool: for methods that only read cached state, and offload whatever could block.
        public let runsOnEventLoop: Bool
        public let handle: @Sendable (_ request: [UInt8], _ context: ServerContext) async throws -> [UInt8]
    }

    private var methods: [String: Method] = [:]

    public init() {}

    /// The table of `services`: Identity, Node and Controller, each when present.
    public init(_ services: [any GRPCMethodTableRegistrable]) {
        for service in services { service.register(in: &self) }
    }

    /// The method served at `path`, an HTTP/2 `:path` such as `/csi.v1.Identity/Probe`.
    public func method(atPath path: Substring) -> Method? {
        guard path.first == "/" else { return nil }
        return methods[String(path.dropFirst())]
    }

    /// The fully qualified names of the methods served (`csi.v1.Identity/Probe`), sorted.
    public var names: [String] { methods.keys.sorted() }

    /// Serves `descriptor` with `body`. A request that does not decode is INVALID_ARGUMENT.
    public mutating func add<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ descriptor: MethodDescriptor,
        onEventLoop: Bool = false,
        _ body: @escaping @Sendable (Request, ServerContext) async throws -> Response
    ) {
        methods[descriptor.fullyQualifiedMethod] = Method(descriptor: descriptor, runsOnEventLoop: onEventLoop) { bytes, context in
            let request: Request
            do {
                request = try Request(serializedBytes: bytes)
            } catch {
                throw RPCError(code: .invalidArgument, message: "the request is not a valid \(Request.protoMessageName) message: \(error)")
            }
            return try await body(request, context).serializedBytes()
        }
    }
}

/// A service whose methods go into a `GRPCMethodTable`: the generated CSI service protocols.
public protocol GRPCMethodTableRegistrable: Sendable {
    func register(in table: inout GRPCMethodTable)
}

// The methods kubelet and the sidecars call often and that answer from memory (stats reads
// cached health and offloads statvfs) run on the event loop; the rest on the cooperative pool.

extension Csi_V1_Identity.SimpleServiceProtocol where Self: GRPCMethodTableRegistrable {
    public func register(in table: inout GRPCMethodTable) {
        typealias M = Csi_V1_Identity.Method
        table.add(M.GetPluginInfo.descriptor, onEventLoop: true, getPluginInfo(request:context:))
        table.add(M.GetPluginCapabilities.descriptor, onEventLoop: true, getPluginCapabilities(request:context:))
        table.add(M.Probe.descriptor, onEventLoop: true, probe(request:context:))
    }
}

extension Csi_V1_Controller.SimpleServiceProtocol where Self: GRPCMethodTableRegistrable {
    public func register(in table: inout GRPCMethodTable) {
        typealias M = Csi_V1_Controller.Method
        table.add(M.CreateVolume.descriptor, createVolume(request:context:))
        table.add(M.DeleteVolume.descriptor, deleteVolume(request:context:))
        table.add(M.ValidateVolumeCapabilities.descriptor, validateVolumeCapabilities(request:context:))
        table.add(M.ControllerGetCapabilities.descriptor, onEventLoop: true, controllerGetCapabilities(request:context:))
        table.add(M.CreateSnapshot.descriptor, createSnapshot(request:context:))
        table.add(M.DeleteSnapshot.descriptor, deleteSnapshot(request:context:))
        table.add(M.ControllerExpandVolume.descriptor, controllerExpandVolume(request:context:))
    }
}

extension Csi_V1_Node.SimpleServiceProtocol where Self: GRPCMethodTableRegistrable {
    public func register(in table: inout GRPCMethodTable) {
        typealias M = Csi_V1_Node.Method
        table.add(M.NodeStageVolume.descriptor, nodeStageVolume(request:context:))
        table.add(M.NodeUnstageVolume.descriptor, nodeUnstageVolume(request:context:))
        table.add(M.NodePublishVolume.descriptor, nodePublishVolume(request:context:))
        table.add(M.NodeUnpublishVolume.descriptor, nodeUnpublishVolume(request:context:))
        table.add(M.NodeGetVolumeStats.descriptor, onEventLoop: true, nodeGetVolumeStats(request:context:))
        table.add(M.NodeExpandVolume.descriptor, nodeExpandVolume(request:context:))
        table.add(M.NodeGetCapabilities.descriptor, onEventLoop: true, nodeGetCapabilities(request:context:))
        table.add(M.NodeGetInfo.descriptor, onEventLoop: true, nodeGetInfo(request:context:))
    }
}

extension IdentityService: GRPCMethodTableRegistrable {}
extension ControllerService: GRPCMethodTableRegistrable {}
extension NodeService: GRPCMethodTableRegistrable {}
