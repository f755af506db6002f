import GRPCCore

/// What the layer above gives the transport: how errors become statuses, and who is told of
/// each call.
public struct GRPCServerHooks: Sendable {
    /// The status for whatever a method throws.
    public var mapError: @Sendable (any Error) -> RPCError
    /// Told of every call that ran, with the status the client was sent.
    public var observer: (any GRPCCallObserver)?

    public init(mapError: @escaping @Sendable (any Error) -> RPCError = GRPCServerHooks.passThrough, observer: (any GRPCCallObserver)? = nil) {
        self.mapError = mapError
        self.observer = observer
    }

    /// An `RPCError` as it is; anything else UNKNOWN with its description.
    public static func passThrough(_ error: any Error) -> RPCError {
        error as? RPCError ?? RPCError(code: .unknown, message: String(describing: error))
    }
}

/// Told of each call of a served method once its status is sent: a deadline that passed is
/// DEADLINE_EXCEEDED here as on the wire, whatever the cancelled body threw afterwards; a
/// client that went away is CANCELLED.
public protocol GRPCCallObserver: Sendable {
    /// `status` is nil for OK. Called on the connection's event loop: keep it short.
    func callEnded(_ method: MethodDescriptor, subject: String, status: RPCError?, duration: Duration)
}
