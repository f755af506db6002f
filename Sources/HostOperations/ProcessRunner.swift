/// Runs commands as child processes (vfork and exec, `rbdcsi_spawn`), each in its own process
/// group.
///
/// Every child gets `/dev/null` (or the command's bytes) as standard input, pipes for its output,
/// no other inherited descriptor (but a secret as `/dev/fd/3` when the command has one),
/// default signal dispositions, a hard timeout, and SIGKILL as parent-death signal: a child
/// never outlives a plugin that was killed while waiting for it. On timeout or
/// cancellation the whole process group is killed with `SIGKILL`.
///
/// No thread waits for a child: one thread (`ChildSupervisor`) spawns every child and watches
/// all of them at once, their output pipes and exits (pidfds) in one `poll`. A child that
/// hangs costs its descriptors until its timeout kills it, never a thread, so it cannot
/// starve the blocking executor, the event loops or the cooperative pool.
public struct ProcessRunner: CommandRunning {
    /// At most this many bytes of each of standard output and standard error are kept.
    public var outputLimit: Int

    public init(outputLimit: Int = 1 << 20) {
        self.outputLimit = outputLimit
    }

    public func run(_ command: Command) async throws -> CommandResult {
        try await ChildSupervisor.shared.run(command, outputLimit: outputLimit)
    }
}
