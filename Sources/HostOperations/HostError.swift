#if canImport(Glibc)
import Glibc
#endif

/// A failed system call on the host, with what was being done.
public struct HostError: Error, Sendable, Hashable, CustomStringConvertible {
    public var operation: String
    public var errorNumber: Int32

    public static func system(_ operation: String, _ errorNumber: Int32) -> HostError {
        HostError(operation: operation, errorNumber: errorNumber)
    }

    public var isNotFound: Bool { errorNumber == ENOENT }

    public var description: String { "\(operation): \(String(cString: strerror(errorNumber)))" }
}
