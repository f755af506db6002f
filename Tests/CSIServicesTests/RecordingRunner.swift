import HostOperations
import Synchronization

/// A fake `CommandRunning` for the adapters that build command lines: it records every
/// command (program, exact argv, whether a secret file was passed) and answers from a table of
/// canned results keyed by the program and its first arguments.
final class RecordingRunner: CommandRunning {
    private let state = Mutex<(commands: [Command], answers: [String: CommandResult], delays: [String: Duration])>(([], [:], [:]))

    /// Answers commands whose program and arguments start with `prefix` (space-separated).
    func answer(_ prefix: String, with result: CommandResult) {
        state.withLock { $0.answers[prefix] = result }
    }

    /// Makes commands starting with `prefix` take `delay` (cancellable, as a killed child).
    func delay(_ prefix: String, by delay: Duration) {
        state.withLock { $0.delays[prefix] = delay }
    }

    /// Every command run, as program and argv.
    var argv: [[String]] { state.withLock { $0.commands.map { [$0.executable] + $0.arguments } } }
    var commands: [Command] { state.withLock { $0.commands } }

    func run(_ command: Command) async throws -> CommandResult {
        let line = ([command.executable] + command.arguments).joined(separator: " ")
        if let delay = state.withLock({ $0.delays.first { line.hasPrefix($0.key) }?.value }) {
            try await Task.sleep(for: delay)
        }
        return state.withLock { state in
            state.commands.append(command)
            let match = state.answers.keys.filter { line.hasPrefix($0) }.max { $0.count < $1.count }
            return match.flatMap { state.answers[$0] } ?? CommandResult(exitCode: 0)
        }
    }
}
