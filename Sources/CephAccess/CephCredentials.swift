/// A Ceph user and its key, from a request's secrets (`userID`, `userKey`).
public struct CephCredentials: Sendable {
    public var userID: String
    public var key: String

    public init(userID: String, key: String) {
        self.userID = userID
        self.key = key
    }

    /// Nil when either secret is missing or empty. A secret of an in-tree migrated volume
    /// (`key`, and `adminId` defaulting to `admin`) is read as ceph-csi reads it.
    public init?(secrets: [String: String]) {
        if let key = secrets["key"], !key.isEmpty {
            let admin = secrets["adminId"].flatMap { $0.isEmpty ? nil : $0 } ?? "admin"
            self.init(userID: admin, key: key)
            return
        }
        guard let user = secrets["userID"], !user.isEmpty, let key = secrets["userKey"], !key.isEmpty else { return nil }
        self.init(userID: user, key: key)
    }
}
