/// The mount table as parsed once: every entry in kernel order, and the topmost mount at each
/// mount point. `MountInfoCache` keeps one until the kernel signals a change, so a stats call
/// finds its mount with a dictionary lookup instead of parsing the table (two lines per staged
/// and published volume, and one rbd-fuse mount per rbd-fuse volume).
public struct MountTableSnapshot: Sendable {
    public let entries: [MountEntry]
    /// Mount point → index in `entries` of the last (topmost) entry there.
    private let topmost: [String: Int]

    public init(parsing text: String) {
        let entries = MountInfoParser.parse(text)
        self.entries = entries
        var topmost: [String: Int] = [:]
        topmost.reserveCapacity(entries.count)
        for (index, entry) in entries.enumerated() { topmost[entry.mountPoint] = index }
        self.topmost = topmost
    }

    /// The topmost entry whose mount point is exactly `mountPoint` (already normalized).
    public func entry(at mountPoint: String) -> MountEntry? {
        topmost[mountPoint].map { entries[$0] }
    }
}
