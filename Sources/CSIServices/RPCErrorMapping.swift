import CephAccess
import GRPCCore
import HostOperations

#if canImport(Glibc)
import Glibc
#endif

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
        case let error as CephAccessError:
            self.init(code: Self.code(of: error), message: error.description)
        case let error as BlockingTimeout:
            self.init(code: .deadlineExceeded, message: error.description)
        case is CancellationError:
            self.init(code: .cancelled, message: "the call was cancelled")
        default:
            self.init(code: .internalError, message: String(describing: error))
        }
    }

    /// Missing things are NOT_FOUND (the spec's answer, where ceph-csi says INTERNAL); a
    /// cluster that does not answer in time is DEADLINE_EXCEEDED, one that cannot be reached
    /// UNAVAILABLE.
    private static func code(of error: CephAccessError) -> RPCError.Code {
        switch error {
        case .imageNotFound, .unknownCluster, .poolNotFound, .poolNamedNotFound, .journalEntryMissing: return .notFound
        case .invalidString, .malformedKey: return .invalidArgument
        case .imageExists: return .internalError
        case .timedOut, .callFailed(_, ETIMEDOUT): return .deadlineExceeded
        case .unreachable: return .unavailable
        // An image still watched (a client that died keeps its watch for 30 s): retry later.
        case .callFailed(_, EBUSY): return .unavailable
        case .accessDenied, .callFailed(_, EACCES), .callFailed(_, EPERM): return .permissionDenied
        case .badConfig, .callFailed, .libraryMissing: return .internalError
        }
    }
}

extension RPCError.Code {
    /// The canonical upper-case name (`INVALID_ARGUMENT`), as in gRPC's own tools.
    public var wireName: String {
        switch self {
        case .cancelled: return "CANCELLED"
        case .unknown: return "UNKNOWN"
        case .invalidArgument: return "INVALID_ARGUMENT"
        case .deadlineExceeded: return "DEADLINE_EXCEEDED"
        case .notFound: return "NOT_FOUND"
        case .alreadyExists: return "ALREADY_EXISTS"
        case .permissionDenied: return "PERMISSION_DENIED"
        case .resourceExhausted: return "RESOURCE_EXHAUSTED"
        case .failedPrecondition: return "FAILED_PRECONDITION"
        case .aborted: return "ABORTED"
        case .outOfRange: return "OUT_OF_RANGE"
        case .unimplemented: return "UNIMPLEMENTED"
        case .internalError: return "INTERNAL"
        case .unavailable: return "UNAVAILABLE"
        case .dataLoss: return "DATA_LOSS"
        case .unauthenticated: return "UNAUTHENTICATED"
        default: return "\(self)"
        }
    }
}
