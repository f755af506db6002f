/// Checks a filesystem before a read-write mount. The seam for faking the host in unit tests.
public protocol FilesystemChecking: Sendable {
    func check(device: String, fsType: String) async throws
}

/// `fsck -a` for the ext family, as Kubernetes does before mounting an existing filesystem.
/// XFS is not checked: its log is replayed by the kernel at mount time.
public struct FsckChecker: FilesystemChecking {
    public let runner: any CommandRunning
    public let timeout: Duration

    public init(runner: any CommandRunning, timeout: Duration = .seconds(600)) {
        self.runner = runner
        self.timeout = timeout
    }

    public func check(device: String, fsType: String) async throws {
        guard fsType.hasPrefix("ext") else { return }
        let command = Command("fsck", ["-a", device], timeout: timeout)
        let result = try await runner.run(command)
        // 0: clean, 1: errors corrected. 4 and up: errors left uncorrected, or fsck failed.
        guard result.exitCode <= 1 else {
            throw CommandError.failed(command: command.description, result: result)
        }
    }
}
