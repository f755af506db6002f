import ArgumentParser
import CSIProtocol

/// `rbdcsi client controller caps`.
struct ControllerCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract: "Controller service calls.",
        subcommands: [Caps.self]
    )

    struct Caps: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "ControllerGetCapabilities.")
        @ParentCommand var client: ClientCommand

        func run() async throws {
            try await client.call { grpc, options in
                try await Csi_V1_Controller.Client(wrapping: grpc).controllerGetCapabilities(.init(), options: options)
            }
        }
    }
}
