/// Runs external programs. The one seam through which the plugin touches child processes, so
/// that everything above it can be tested with a fake.
public protocol CommandRunning: Sendable {
    /// Runs `command` to completion and returns its exit code and output, whatever the exit code.
    ///
    /// Throws ``CommandError/launchFailed(command:reason:)``,
    /// ``CommandError/timedOut(command:after:standardError:)`` or
    /// ``CommandError/cancelled(command:)``; a killed process never outlives the call.
    func run(_ command: Command) async throws -> CommandResult
}

extension CommandRunning {
    /// Runs `command` and throws ``CommandError/failed(command:result:)`` unless it exits with 0.
    @discardableResult
    public func runChecked(_ command: Command) async throws -> CommandResult {
        let result = try await run(command)
        guard result.succeeded else {
            throw CommandError.failed(command: command.description, result: result)
        }
        return result
    }
}
