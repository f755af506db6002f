/// ceph-csi's limits on clone chains and snapshots per image (contract §7), from the flags
/// `--rbdhardmaxclonedepth`, `--rbdsoftmaxclonedepth`, `--maxsnapshotsonimage` and
/// `--minsnapshotsonimage`, with ceph-csi's defaults and ranges.
public struct CloneLimits: Sendable, Hashable {
    /// A chain this deep is flattened before anything is cloned from it; the request waits
    /// (ABORTED, retried) until the flatten is done.
    public var hardDepth: Int
    /// A chain this deep is flattened in the background; the request goes on.
    public var softDepth: Int
    /// More snapshots than this on a source refuse a new snapshot or clone (RESOURCE_EXHAUSTED).
    public var maxSnapshots: Int
    public var minSnapshots: Int

    /// Out-of-range values are refused, as ceph-csi refuses to start with them.
    public init(hardDepth: Int = 8, softDepth: Int = 4, maxSnapshots: Int = 450, minSnapshots: Int = 250) throws(CloneLimitsError) {
        guard (1...14).contains(hardDepth) else { throw CloneLimitsError("--rbdhardmaxclonedepth must be 1 to 14, not \(hardDepth)") }
        guard (1...hardDepth).contains(softDepth) else {
            throw CloneLimitsError("--rbdsoftmaxclonedepth must be 1 to --rbdhardmaxclonedepth (\(hardDepth)), not \(softDepth)")
        }
        guard (1...500).contains(maxSnapshots) else { throw CloneLimitsError("--maxsnapshotsonimage must be 1 to 500, not \(maxSnapshots)") }
        guard (1...maxSnapshots).contains(minSnapshots) else {
            throw CloneLimitsError("--minsnapshotsonimage must be 1 to --maxsnapshotsonimage (\(maxSnapshots)), not \(minSnapshots)")
        }
        self.hardDepth = hardDepth
        self.softDepth = softDepth
        self.maxSnapshots = maxSnapshots
        self.minSnapshots = minSnapshots
    }

    /// The defaults (8, 4, 450, 250).
    public static let defaults = try! CloneLimits()

    /// Both depth limits lowered by `levels` (kept at least 1), for a check on an ancestor of
    /// the image to be made: ceph-csi checks a clone's source parent with 2 fewer, a
    /// snapshot's image with 1 fewer.
    func lowered(by levels: Int) -> (hard: Int, soft: Int) {
        (hardDepth > levels ? hardDepth - levels : hardDepth, softDepth > levels ? softDepth - levels : softDepth)
    }
}

/// A clone or snapshot limit flag out of range.
public struct CloneLimitsError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}
