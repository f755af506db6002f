import HostOperations

/// Maps with rbd-nbd (userspace librbd behind /dev/nbdX), with ceph-csi's defaults:
/// netlink, a 300 s reattach window, no I/O timeout, the volume id as cookie where kernel and
/// rbd-nbd support it, and a client log file per volume.
public struct NBDMapper: ImageReattaching {
    public let runner: any CommandRunning
    public let timeout: Duration
    public let cookies: NBDCookieSupport

    public init(runner: any CommandRunning, timeout: Duration = .seconds(120), cookies: NBDCookieSupport = NBDCookieSupport()) {
        self.runner = runner
        self.timeout = timeout
        self.cookies = cookies
    }

    public func mappedDevice(of spec: ImageSpec) async throws -> String? {
        let result = try await runner.runChecked(Command("rbd-nbd", ["list-mapped", "--format", "json"], timeout: timeout))
        return try DeviceListParser.device(of: spec, in: result.standardOutput)
    }

    /// The rbd-nbd flags for `options` plus the defaults the options do not set; the cookie
    /// only with `cookie` (kernel ≥ 5.14 and an rbd-nbd that knows the flag).
    public static func mapFlags(options: [String], volumeID: String, cookie: Bool = true) -> [String] {
        let given = options.map { "--" + $0 }
        let names = Set(options.map { String($0.split(separator: "=").first ?? "") })
        var defaults: [String] = []
        if !names.contains("try-netlink") { defaults.append("--try-netlink") }
        if !names.contains("reattach-timeout") { defaults.append("--reattach-timeout=300") }
        if !names.contains("io-timeout") { defaults.append("--io-timeout=0") }
        if cookie && !names.contains("cookie") { defaults.append("--cookie=\(volumeID)") }
        return defaults + given
    }

    public func map(_ request: MapRequest) async throws -> String {
        var arguments = ["--id", request.userID, "-m", request.monitors, "--keyfile=\(Command.secretFilePath)"]
        if let logFile = request.logFile { arguments += ["--log-file", logFile] }
        arguments += ["map", request.spec.description]
        arguments += Self.mapFlags(options: request.options, volumeID: request.volumeID, cookie: await cookies.supported(runner: runner))
        if request.readOnly { arguments.append("--read-only") }
        return try await runMap(request.mapCommand("rbd-nbd", arguments, timeout: timeout), spec: request.spec, runner: runner)
    }

    /// Brings a new rbd-nbd daemon up on `device`, an nbd device whose daemon died (its
    /// kernel side waits for one for the reattach timeout), as ceph-csi's healer does:
    /// `rbd-nbd attach <image> --device <device>` with the map's flags and the same cookie.
    /// The filesystem mounted on the device and the pods' binds of it stay as they are.
    public func reattach(_ request: MapRequest, device: String) async throws {
        var arguments = ["--id", request.userID, "-m", request.monitors, "--keyfile=\(Command.secretFilePath)"]
        if let logFile = request.logFile { arguments += ["--log-file", logFile] }
        arguments += ["attach", request.spec.description, "--device", device]
        arguments += Self.mapFlags(options: request.options, volumeID: request.volumeID, cookie: await cookies.supported(runner: runner))
        if request.readOnly { arguments.append("--read-only") }
        // Not runMap: a timed-out attach must not unmap the device the pods still use.
        _ = try await runner.runChecked(request.mapCommand("rbd-nbd", arguments, timeout: timeout))
    }

    public func unmap(_ spec: ImageSpec, options: [String]) async throws {
        guard let device = try await mappedDevice(of: spec) else { return }
        let command = Command("rbd-nbd", ["unmap", device] + options.map { "--" + $0 }, timeout: timeout)
        let result = try await runner.run(command)
        if result.succeeded || result.standardError.contains("not mapped") { return }
        throw CommandError.failed(command: command.description, result: result)
    }

    /// rbd-nbd's `--log-file`, removed, compressed or kept after the unmap (ceph-csi's
    /// cephLogStrategy).
    public func finishLog(volumeID: String, directory: String, strategy: String) async throws -> String? {
        try await CephLogFile.finish(CephLogFile.path(volumeID: volumeID, directory: directory), strategy: strategy, runner: runner)
    }
}
