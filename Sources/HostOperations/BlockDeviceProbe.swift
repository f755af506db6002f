/// Finds what a block device holds. The seam for faking the host in unit tests.
public protocol BlockDeviceProbing: Sendable {
    /// The filesystem type (`ext4`, `xfs`, …), `"unknown data"` for a partition table or other
    /// signature without a filesystem, or nil for a blank device.
    func contentType(of device: String) async throws -> String?
    /// The filesystem size recorded in the superblock of `device` (nil when there is none),
    /// and the device's own size in bytes.
    func sizes(of device: String) throws -> (filesystem: FilesystemSuperblock?, device: UInt64)
}

/// Probes with `blkid -p` (low-level, bypassing the cache), like Kubernetes' `GetDiskFormat`.
public struct BlkidProbe: BlockDeviceProbing {
    public let runner: any CommandRunning
    public let timeout: Duration

    public init(runner: any CommandRunning, timeout: Duration = .seconds(60)) {
        self.runner = runner
        self.timeout = timeout
    }

    public func contentType(of device: String) async throws -> String? {
        let command = Command("blkid", ["-p", "-s", "TYPE", "-s", "PTTYPE", "-o", "export", device], timeout: timeout)
        let result = try await runner.run(command)
        // Exit code 2: nothing identified, the device is blank.
        if result.exitCode == 2 { return nil }
        guard result.succeeded else { throw CommandError.failed(command: command.description, result: result) }
        return Self.parse(result.standardOutput)
    }

    public func sizes(of device: String) throws -> (filesystem: FilesystemSuperblock?, device: UInt64) {
        (try FilesystemSuperblock.read(device: device), UInt64(try HostPaths.size(of: device)))
    }

    /// `TYPE=ext4` → ext4; only `PTTYPE=…` → "unknown data"; nothing → nil.
    public static func parse(_ output: String) -> String? {
        var type: String?
        var partitionTable: String?
        for line in output.split(separator: "\n") {
            if line.hasPrefix("TYPE=") { type = String(line.dropFirst(5)) }
            if line.hasPrefix("PTTYPE=") { partitionTable = String(line.dropFirst(7)) }
        }
        if let type, !type.isEmpty { return type }
        return partitionTable == nil ? nil : "unknown data"
    }
}
