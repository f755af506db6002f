import ArgumentParser
import Foundation
import PluginRuntime

#if canImport(Glibc)
import Glibc
#endif

/// `rbdcsi`: the Ceph RBD CSI node plugin (`rbdcsi [serve] --type=rbd …`) and a CSI client
/// for it (`rbdcsi client …`).
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
        ServeCommand.ignoredFlags = normalized.ignored
        do {
            var command = try parseAsRoot(normalized.arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as StartupFailure {
            FileHandle.standardError.write(Data("rbdcsi: \(failure.message)\n".utf8))
            Glibc.exit(1)
        } catch let failure as CallFailure {
            FileHandle.standardError.write(Data("rbdcsi: \(failure.description)\n".utf8))
            Glibc.exit(1)
        } catch {
            exit(withError: error)
        }
    }
}
