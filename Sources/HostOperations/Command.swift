/// One invocation of an external program: what to run, with which arguments, for how long.
public struct Command: Sendable, Hashable, CustomStringConvertible {
    /// The program, looked up in `PATH` unless it contains a `/`.
    public var executable: String
    /// The arguments, without the program name.
    public var arguments: [String]
    /// The hard limit: when it passes, the whole process group is killed.
    public var timeout: Duration
    /// Bytes written to the program's standard input (which is otherwise `/dev/null`).
    public var standardInput: [UInt8]?

    public init(_ executable: String, _ arguments: [String], timeout: Duration, standardInput: [UInt8]? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.timeout = timeout
        self.standardInput = standardInput
    }

    /// The command line as a shell would show it (arguments with spaces are quoted).
    public var description: String {
        ([executable] + arguments).map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " ")
    }
}
