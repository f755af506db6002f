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
            let options = client.callOptions
            let response = try await client.withClient { grpc in
                try await Csi_V1_Controller.Client(wrapping: grpc).controllerGetCapabilities(.init(), options: options)
            }
            try ClientCommand.printJSON(response)
        }
    }
}
