import HostOperations

/// Maps with rbd-nbd (userspace librbd behind /dev/nbdX), with ceph-csi's defaults:
/// netlink, a 300 s reattach window, no I/O timeout, and the volume id as cookie.
public struct NBDMapper: ImageMapping {
    public let runner: any CommandRunning
    public let timeout: Duration

    public init(runner: any CommandRunning, timeout: Duration = .seconds(120)) {
        self.runner = runner
        self.timeout = timeout
    }

    public func mappedDevice(of spec: ImageSpec) async throws -> String? {
        let result = try await runner.runChecked(Command("rbd-nbd", ["list-mapped", "--format", "json"], timeout: timeout))
        return try DeviceListParser.device(of: spec, in: result.standardOutput)
    }

    /// The rbd-nbd flags for `options` plus the defaults the options do not set.
    public static func mapFlags(options: [String], volumeID: String) -> [String] {
        let given = options.map { "--" + $0 }
        let names = Set(options.map { String($0.split(separator: "=").first ?? "") })
        var defaults: [String] = []
        if !names.contains("try-netlink") { defaults.append("--try-netlink") }
        if !names.contains("reattach-timeout") { defaults.append("--reattach-timeout=300") }
        if !names.contains("io-timeout") { defaults.append("--io-timeout=0") }
        if !names.contains("cookie") { defaults.append("--cookie=\(volumeID)") }
        return defaults + given
    }

    public func map(_ request: MapRequest) async throws -> String {
        var arguments = ["--id", request.userID, "-m", request.monitors, "--keyfile=\(Command.secretFilePath)", "map", request.spec.description]
        arguments += Self.mapFlags(options: request.options, volumeID: request.volumeID)
        if request.readOnly { arguments.append("--read-only") }
        return try await runMap(Command("rbd-nbd", arguments, timeout: timeout, secretFile: request.secretFile), spec: request.spec, runner: runner)
    }

    public func unmap(_ spec: ImageSpec, options: [String]) async throws {
        guard let device = try await mappedDevice(of: spec) else { return }
        let command = Command("rbd-nbd", ["unmap", device] + options.map { "--" + $0 }, timeout: timeout)
        let result = try await runner.run(command)
        if result.succeeded || result.standardError.contains("not mapped") { return }
        throw CommandError.failed(command: command.description, result: result)
    }
}
