/// Mounts and unmounts. The seam for faking the host in unit tests.
public protocol Mounting: Sendable {
    /// `mount [-t fsType] -o options source target`.
    func mount(source: String, target: String, fsType: String?, options: [String]) async throws
    /// `umount target`.
    func unmount(_ target: String) async throws
}

/// Mounts with util-linux `mount(8)`/`umount(8)`, which handle `bind,ro` in one call and
/// userspace options such as `_netdev`. Each call is bounded by `timeout`.
public struct SystemMounter: Mounting {
    public let runner: any CommandRunning
    public let timeout: Duration

    public init(runner: any CommandRunning, timeout: Duration = .seconds(120)) {
        self.runner = runner
        self.timeout = timeout
    }

    public func mount(source: String, target: String, fsType: String?, options: [String]) async throws {
        var arguments: [String] = []
        if let fsType, !fsType.isEmpty { arguments += ["-t", fsType] }
        if !options.isEmpty { arguments += ["-o", options.joined(separator: ",")] }
        arguments += [source, target]
        try await runner.runChecked(Command("mount", arguments, timeout: timeout))
    }

    public func unmount(_ target: String) async throws {
        try await runner.runChecked(Command("umount", [target], timeout: timeout))
    }
}
