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
    /// Bytes the program reads as the file `/dev/fd/3` (`Command.secretFilePath`): a Ceph key
    /// handed over in an anonymous memory file, never written to disk and never in argv.
    public var secretFile: [UInt8]?

    /// Where a program finds `secretFile`.
    public static let secretFilePath = "/dev/fd/3"

    public init(_ executable: String, _ arguments: [String], timeout: Duration, standardInput: [UInt8]? = nil, secretFile: [UInt8]? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.timeout = timeout
        self.standardInput = standardInput
        self.secretFile = secretFile
    }

    /// The command line as a shell would show it (arguments with spaces are quoted).
    public var description: String {
        ([executable] + arguments).map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " ")
    }
}
