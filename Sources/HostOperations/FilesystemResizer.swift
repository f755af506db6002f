/// Grows filesystems (and loop devices) after their device grew. The seam for fakes.
public protocol FilesystemResizing: Sendable {
    /// Makes the kernel re-read the size of `device` where it does not by itself (loop devices).
    func refreshCapacity(of device: String) async throws
    /// Grows the filesystem mounted at `mountPoint` on `device` to the device's size.
    func grow(device: String, mountPoint: String, fsType: String) async throws
    /// Grows the unmounted filesystem on `device` to the device's size, where the filesystem
    /// can (ext*: forced check, then resize); returns false for types that grow only mounted.
    func growUnmounted(device: String, fsType: String) async throws -> Bool
}

/// `losetup -c` for loop devices; `resize2fs DEV` for ext*, `xfs_growfs MOUNTPOINT` for xfs.
public struct SystemResizer: FilesystemResizing {
    public let runner: any CommandRunning
    public let timeout: Duration

    public init(runner: any CommandRunning, timeout: Duration = .seconds(600)) {
        self.runner = runner
        self.timeout = timeout
    }

    public func refreshCapacity(of device: String) async throws {
        guard device.hasPrefix("/dev/loop") else { return }
        try await runner.runChecked(Command("losetup", ["-c", device], timeout: .seconds(60)))
    }

    public func growUnmounted(device: String, fsType: String) async throws -> Bool {
        guard fsType.hasPrefix("ext") else { return false }
        // resize2fs refuses a filesystem not checked since it was last mounted.
        let check = Command("e2fsck", ["-f", "-p", device], timeout: timeout)
        let result = try await runner.run(check)
        guard result.exitCode <= 1 else { throw CommandError.failed(command: check.description, result: result) }
        try await runner.runChecked(Command("resize2fs", [device], timeout: timeout))
        return true
    }

    public func grow(device: String, mountPoint: String, fsType: String) async throws {
        switch fsType {
        case "ext2", "ext3", "ext4":
            try await runner.runChecked(Command("resize2fs", [device], timeout: timeout))
        case "xfs":
            try await runner.runChecked(Command("xfs_growfs", [mountPoint], timeout: timeout))
        default:
            throw CommandError.launchFailed(command: "grow \(fsType)", reason: "growing \(fsType) filesystems is not supported")
        }
    }
}
