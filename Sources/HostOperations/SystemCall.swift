#if canImport(Glibc)
import Glibc
#endif

/// The one way this module makes a system call that can fail: it retries `EINTR` and reads
/// `errno` right after the call, before anything else (an allocation, a log line, another call)
/// can overwrite it. swift-nio's `System.swift` does the same for the same reason.
public enum SystemCall {
    /// Runs `body` until it does not fail with `EINTR`; a negative result throws a `HostError`
    /// naming `operation` with the errno of that very call.
    @discardableResult
    public static func run<R: BinaryInteger>(_ operation: @autoclosure () -> String, _ body: () -> R) throws(HostError) -> R {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = errno
            if code == EINTR { continue }
            throw HostError.system(operation(), code)
        }
    }

    /// Like `run`, but returns the errno (0 on success) instead of throwing, for callers that
    /// treat some errors as success (`ENOENT` on unlink, `EEXIST` on mkdir).
    public static func errorNumber<R: BinaryInteger>(_ body: () -> R) -> Int32 {
        while true {
            if body() >= 0 { return 0 }
            let code = errno
            if code != EINTR { return code }
        }
    }
}
