import CoreMetrics

/// What the plugin's child processes are counted as, through swift-metrics (a no-op until the
/// process bootstraps a metrics backend).
///
/// The `command` label is the program's file name (`mount`, `rbd-nbd`, `mkfs.ext4`): a small,
/// fixed set, never an argument, so no path or id ever becomes a label value.
enum ChildProcessMetrics {
    static let started = "rbdcsi_child_processes_total"
    static let timedOut = "rbdcsi_child_process_timeouts_total"

    static func record(_ command: Command, _ result: Result<CommandResult, any Error>) {
        let name = command.executable.split(separator: "/").last.map(String.init) ?? command.executable
        let dimensions = [("command", name)]
        Counter(label: started, dimensions: dimensions).increment()
        if case .failure(CommandError.timedOut) = result {
            Counter(label: timedOut, dimensions: dimensions).increment()
        }
    }
}
