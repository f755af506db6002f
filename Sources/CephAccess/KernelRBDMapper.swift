import HostOperations

/// Maps with the kernel RBD client: `rbd map … --device-type krbd --options noudev`.
public struct KernelRBDMapper: ImageMapping {
    public let runner: any CommandRunning
    public let timeout: Duration

    public init(runner: any CommandRunning, timeout: Duration = .seconds(120)) {
        self.runner = runner
        self.timeout = timeout
    }

    public func mappedDevice(of spec: ImageSpec) async throws -> String? {
        let result = try await runner.runChecked(Command("rbd", ["device", "list", "--device-type", "krbd", "--format", "json"], timeout: timeout))
        return try DeviceListParser.device(of: spec, in: result.standardOutput)
    }

    public func map(_ request: MapRequest) async throws -> String {
        var arguments = ["--id", request.userID, "-m", request.monitors, "--keyfile=\(Command.secretFilePath)",
                         "map", request.spec.description, "--device-type", "krbd", "--options", "noudev"]
        if !request.options.isEmpty { arguments += ["--options", request.options.joined(separator: ",")] }
        if request.readOnly { arguments.append("--read-only") }
        return try await runMap(request.mapCommand("rbd", arguments, timeout: timeout), spec: request.spec, runner: runner)
    }

    public func unmap(_ spec: ImageSpec, options: [String]) async throws {
        var arguments = ["unmap", spec.description, "--device-type", "krbd", "--options", "noudev"]
        if !options.isEmpty { arguments += ["--options", options.joined(separator: ",")] }
        let command = Command("rbd", arguments, timeout: timeout)
        let result = try await runner.run(command)
        if result.succeeded || Self.notMapped(result.standardError) { return }
        throw CommandError.failed(command: command.description, result: result)
    }

    static func notMapped(_ stderr: String) -> Bool {
        stderr.contains("not mapped") || stderr.contains("No such file or directory")
    }
}
