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
}
