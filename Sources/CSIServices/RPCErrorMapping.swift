import GRPCCore
import HostOperations

extension RPCError {
    /// The gRPC status for any error thrown while serving a call: the one place where errors
    /// become codes. Unknown errors are INTERNAL with their description, never a crash.
    public init(mapping error: any Error) {
        switch error {
        case let error as RPCError:
            self = error
        case let error as CSIError:
            self.init(code: error.code, message: error.message)
        case let error as CommandError:
            if case .cancelled = error {
                self.init(code: .cancelled, message: error.description)
            } else {
                self.init(code: .internalError, message: error.description)
            }
        case is CancellationError:
            self.init(code: .cancelled, message: "the call was cancelled")
        default:
            self.init(code: .internalError, message: String(describing: error))
        }
    }
}
