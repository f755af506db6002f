import CSIServices
import GRPCCore
import HostOperations
import Testing

@Suite("Errors become gRPC statuses in one place")
struct RPCErrorMappingTests {
    @Test func csiErrorsKeepTheirCode() {
        let status = RPCError(mapping: CSIError.invalidArgument("volume ID missing in request"))
        #expect(status.code == .invalidArgument)
        #expect(status.message == "volume ID missing in request")
    }

    @Test func failedCommandsAreInternalWithTheirCause() {
        let failure = CommandError.failed(command: "rbd map rbd/img", result: CommandResult(exitCode: 2, standardError: "rbd: map failed: (2) No such file or directory\n"))
        let status = RPCError(mapping: failure)
        #expect(status.code == .internalError)
        #expect(status.message.contains("rbd map rbd/img"))
        #expect(status.message.contains("exit code 2"))
        #expect(status.message.contains("No such file or directory"))
    }

    @Test func timeoutsNameTheCommandAndTheLimit() {
        let status = RPCError(mapping: CommandError.timedOut(command: "rbd map rbd/img", after: .seconds(30), standardError: ""))
        #expect(status.code == .internalError)
        #expect(status.message.contains("timed out after 30s"))
    }

    @Test func unknownErrorsAreInternal() {
        struct Odd: Error {}
        #expect(RPCError(mapping: Odd()).code == .internalError)
        #expect(RPCError(mapping: CancellationError()).code == .cancelled)
    }
}
