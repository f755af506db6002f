/// Why running an external command did not produce a successful result.
public enum CommandError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The program could not be started (not installed, not executable, …).
    case launchFailed(command: String, reason: String)
    /// The program ran past its timeout and was killed.
    case timedOut(command: String, after: Duration, standardError: String)
    /// The caller was cancelled; the program was killed.
    case cancelled(command: String)
    /// The program exited with a non-zero status.
    case failed(command: String, result: CommandResult)

    public var description: String {
        switch self {
        case let .launchFailed(command, reason):
            return "could not run `\(command)`: \(reason)"
        case let .timedOut(command, after, stderr):
            return "`\(command)` timed out after \(after.secondsText) and was killed" + Self.suffix(stderr)
        case let .cancelled(command):
            return "`\(command)` was cancelled and killed"
        case let .failed(command, result):
            let output = result.standardError.isEmpty ? result.standardOutput : result.standardError
            return "`\(command)` failed with exit code \(result.exitCode)" + Self.suffix(output)
        }
    }

    /// The result of a command that ran to completion, if it did.
    public var result: CommandResult? {
        if case let .failed(_, result) = self { return result }
        return nil
    }

    private static func suffix(_ text: String) -> String {
        let trimmed = text.trimmingWhitespace()
        return trimmed.isEmpty ? "" : ": \(trimmed)"
    }
}

extension Duration {
    /// "1.5s", "250ms": for messages.
    public var secondsText: String {
        let (seconds, attoseconds) = components
        let millis = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return millis % 1000 == 0 ? "\(millis / 1000)s" : (millis >= 1000 ? "\(Double(millis) / 1000)s" : "\(millis)ms")
    }
}

extension StringProtocol {
    /// The string without leading and trailing spaces, tabs and newlines.
    public func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
