/// What a finished child process left behind.
public struct CommandResult: Sendable, Hashable {
    /// The exit status, or 128 + signal number when the process was killed by a signal.
    public var exitCode: Int32
    public var standardOutput: String
    public var standardError: String

    public init(exitCode: Int32, standardOutput: String = "", standardError: String = "") {
        self.exitCode = exitCode
        self.standardOutput = standardOutput
        self.standardError = standardError
    }

    /// Whether the program exited with status 0.
    public var succeeded: Bool { exitCode == 0 }
}
