#if canImport(Glibc)
import Glibc
#endif

/// Ceph-side conditions the node reports with their own meaning.
public enum CephAccessError: Error, Sendable, Hashable, CustomStringConvertible {
    case imageNotFound(ImageSpec)
    case unknownCluster(String, configFile: String)
    case badConfig(file: String, reason: String)
    /// No pool has the id a volume id names.
    case poolNotFound(id: Int64)
    /// No pool has the name a request names.
    case poolNamedNotFound(String)
    /// The journal entry of a volume id is missing, or lacks a required key.
    case journalEntryMissing(volumeID: String, reason: String)
    /// A librados/librbd call did not finish within its time limit.
    case timedOut(operation: String, limit: Duration)
    /// The monitors could not be reached or refused the connection.
    case unreachable(monitors: String, reason: String)
    /// The monitors refused the user: wrong key, unknown user, or missing capabilities.
    case accessDenied(monitors: String, user: String, reason: String)
    /// A librados/librbd call failed with a (positive) errno.
    case callFailed(operation: String, errno: Int32)
    /// librados or librbd could not be loaded (the dynamic linker's message).
    case libraryMissing(String)
    /// A string breaks `CephStringRule` (a NUL, a control character, a separator in a name).
    case invalidString(what: String, problem: String)
    /// An image that this call was to create exists already: it is not this call's, and is
    /// left alone.
    case imageExists(ImageSpec)
    /// A cephx key that is not one (base64 of 28 bytes after decoding is what `ceph auth`
    /// makes).
    case malformedKey(user: String, reason: String)

    public var description: String {
        switch self {
        case let .imageNotFound(spec): return "rbd image \(spec) does not exist"
        case let .unknownCluster(id, file): return "clusterID \(id) not found in \(file)"
        case let .badConfig(file, reason): return "cluster config \(file) is invalid: \(reason)"
        case let .poolNotFound(id): return "no pool with id \(id) exists"
        case let .poolNamedNotFound(name): return "pool \(name) does not exist"
        case let .journalEntryMissing(volumeID, reason): return "journal entry of volume \(volumeID) not found: \(reason)"
        case let .timedOut(operation, limit): return "\(operation) did not finish within \(limit)"
        case let .unreachable(monitors, reason): return "cannot connect to the Ceph monitors \(monitors): \(reason)"
        case let .accessDenied(monitors, user, reason): return "the Ceph monitors \(monitors) refused user \(user) (wrong userKey or unknown userID?): \(reason)"
        case let .callFailed(operation, code): return "\(operation) failed: \(Self.errnoText(code))"
        case let .libraryMissing(reason): return "librados/librbd (packages librados2, librbd1) not usable: \(reason)"
        case let .invalidString(what, problem): return "\(what) \(problem)"
        case let .imageExists(spec): return "rbd image \(spec) exists already and was not made by this call; it is left untouched"
        case let .malformedKey(user, reason): return "the userKey of user \(user) is not a cephx key: \(reason)"
        }
    }

    /// `strerror` text with the errno name's number, e.g. "Permission denied (errno 13)".
    static func errnoText(_ code: Int32) -> String {
        "\(String(cString: strerror(code))) (errno \(code))"
    }
}
