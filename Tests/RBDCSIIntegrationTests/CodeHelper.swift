import GRPCCore

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
