import ArgumentParser
import PluginRuntime

#if canImport(Glibc)
import Glibc
#endif

/// `rbdcsi`: the Ceph RBD CSI node plugin (`rbdcsi [serve] --type=rbd …`) and a CSI client
/// for it (`rbdcsi client …`).
///
/// Every command here names itself (`commandName`): ArgumentParser otherwise derives each name
/// from `String(describing:)` of the command's type, reflection that cost about a tenth of the
/// CPU time of every start.
@main
struct RBDCSI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rbdcsi",
        abstract: "Ceph RBD CSI node plugin, compatible with ceph-csi's RBD node server.",
        version: PluginVersion.current,
        subcommands: [ServeCommand.self, ClientCommand.self],
        defaultSubcommand: ServeCommand.self
    )

    static func main() async {
        let normalized = GoStyleArguments(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try parseAsRoot(normalized.arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as StartupFailure {
            printError(failure.message)
            Glibc.exit(1)
        } catch let failure as CallFailure {
            printError(failure.description)
            Glibc.exit(1)
        } catch {
            exit(withError: error)
        }
    }

    /// One line on standard error, as one write(2) so that lines from concurrent writers do
    /// not interleave.
    private static func printError(_ message: String) {
        var line = "rbdcsi: \(message)\n"
        line.withUTF8 { bytes in _ = Glibc.write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
    }
}
