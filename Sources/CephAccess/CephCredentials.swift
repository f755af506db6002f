import HostOperations

#if canImport(Glibc)
import Glibc
#endif

/// A Ceph user and its key, from a request's secrets (`userID`, `userKey`).
public struct CephCredentials: Sendable {
    public var userID: String
    public var key: String

    public init(userID: String, key: String) {
        self.userID = userID
        self.key = key
    }

    /// Nil when either secret is missing or empty.
    public init?(secrets: [String: String]) {
        guard let user = secrets["userID"], !user.isEmpty, let key = secrets["userKey"], !key.isEmpty else { return nil }
        self.init(userID: user, key: key)
    }

    /// Writes the key to a new mode-0600 file in `directory`, runs `body` with its path, and
    /// removes the file on every path out.
    public func withKeyFile<R>(in directory: String, _ body: (String) async throws -> R) async throws -> R {
        try HostPaths.makeDirectories(directory, mode: 0o700)
        var template = Array("\(directory)/keyfile-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw HostError.system("create key file in \(directory)", errno) }
        let path = String(cString: template)
        defer { unlink(path) }
        let bytes = Array(key.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count else { throw HostError.system("write key file \(path)", errno) }
        return try await body(path)
    }
}
