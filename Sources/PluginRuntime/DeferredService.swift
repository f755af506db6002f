import ServiceLifecycle

/// A service that can only be built from what an earlier service of the same group produces
/// (the CSI server needs the assembled and healed services): it waits for that value, then
/// builds the service and runs it in the same task, so the built service sees the group's
/// graceful shutdown as its own. A shutdown, or a producer that failed, before the value is
/// there ends it without building anything.
public struct DeferredService<Value: Sendable>: Service, CustomStringConvertible {
    public let description: String
    private let gate: StartupGate<Value>
    private let make: @Sendable (Value) throws -> any Service

    /// `name` is what the group's log lines call it.
    public init(_ name: String, after gate: StartupGate<Value>, make: @escaping @Sendable (Value) throws -> any Service) {
        description = name
        self.gate = gate
        self.make = make
    }

    public func run() async throws {
        let gate = gate
        let value: Value
        do {
            value = try await cancelWhenGracefulShutdown { try await gate.value() }
        } catch is StartupGate<Value>.Abandoned {
            return
        } catch is CancellationError {
            return
        }
        try await make(value).run()
    }
}
