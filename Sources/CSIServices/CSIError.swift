import GRPCCore

/// An error that already knows which gRPC status it becomes: thrown by the services for bad
/// input and known conditions (a busy volume, a missing path, a refused reformat).
public struct CSIError: Error, Sendable, CustomStringConvertible {
    public var code: RPCError.Code
    public var message: String

    public init(_ code: RPCError.Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    public static func invalidArgument(_ message: String) -> CSIError { CSIError(.invalidArgument, message) }
    public static func notFound(_ message: String) -> CSIError { CSIError(.notFound, message) }
    public static func internalError(_ message: String) -> CSIError { CSIError(.internalError, message) }
    public static func failedPrecondition(_ message: String) -> CSIError { CSIError(.failedPrecondition, message) }
    public static func unimplemented(_ method: String) -> CSIError {
        CSIError(.unimplemented, "\(method) is not implemented by this plugin")
    }
    /// The answer to a second operation on a volume while one is in flight.
    public static func operationPending(volumeID: String) -> CSIError {
        CSIError(.aborted, "an operation with the given Volume ID \(volumeID) already exists")
    }
}
