/// Makes filesystems. The seam for faking the host in unit tests.
public protocol FilesystemFormatting: Sendable {
    func format(device: String, fsType: String, options: [String]?) async throws
}

/// Runs `mkfs.<type>` with ceph-csi's options for a fresh, thin-provisioned RBD image.
public struct MkfsFormatter: FilesystemFormatting {
    public let runner: any CommandRunning
    public let timeout: Duration

    public init(runner: any CommandRunning, timeout: Duration = .seconds(600)) {
        self.runner = runner
        self.timeout = timeout
    }

    /// The mkfs arguments ceph-csi uses: no discard and lazy init on a fresh image (ext4),
    /// no discard and reflink off where mkfs.xfs knows it (xfs). `custom` (the volume context's
    /// `mkfsOptions`) replaces the defaults.
    public static func arguments(fsType: String, device: String, custom: [String]?, xfsSupportsReflink: Bool) -> [String] {
        if let custom { return custom + [device] }
        switch fsType {
        case "ext4", "ext3":
            return ["-m0", "-Enodiscard,lazy_itable_init=1,lazy_journal_init=1", device]
        case "xfs":
            return ["-K"] + (xfsSupportsReflink ? ["-m", "reflink=0"] : []) + [device]
        default:
            return [device]
        }
    }

    public func format(device: String, fsType: String, options: [String]?) async throws {
        let reflink = fsType == "xfs" && options == nil ? await xfsKnowsReflink() : false
        let arguments = Self.arguments(fsType: fsType, device: device, custom: options, xfsSupportsReflink: reflink)
        try await runner.runChecked(Command("mkfs.\(fsType)", arguments, timeout: timeout))
    }

    /// mkfs.xfs prints its option summary, which names `reflink=` when supported.
    private func xfsKnowsReflink() async -> Bool {
        guard let result = try? await runner.run(Command("mkfs.xfs", [], timeout: .seconds(10))) else { return false }
        return (result.standardError + result.standardOutput).contains("reflink=")
    }
}
