/// One line of `/proc/self/mountinfo`.
public struct MountEntry: Sendable, Hashable {
    public var mountID: Int
    public var parentID: Int
    /// `major:minor` of the mounted device.
    public var device: String
    /// The root of the mount within its filesystem (`/` unless a bind mount of a subtree).
    public var root: String
    public var mountPoint: String
    public var mountOptions: [String]
    public var fsType: String
    public var source: String
    public var superOptions: [String]

    public init(mountID: Int, parentID: Int, device: String, root: String, mountPoint: String, mountOptions: [String], fsType: String, source: String, superOptions: [String]) {
        self.mountID = mountID
        self.parentID = parentID
        self.device = device
        self.root = root
        self.mountPoint = mountPoint
        self.mountOptions = mountOptions
        self.fsType = fsType
        self.source = source
        self.superOptions = superOptions
    }

    /// Whether the mount is read-only.
    public var isReadOnly: Bool { mountOptions.contains("ro") }
}
