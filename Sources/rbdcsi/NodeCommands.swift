import ArgumentParser
import CSIProtocol

/// `rbdcsi client node caps|info|…`.
struct NodeCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Node service calls.",
        subcommands: [Caps.self, Info.self]
    )

    struct Caps: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "NodeGetCapabilities.")
        @ParentCommand var client: ClientCommand

        func run() async throws {
            let options = client.callOptions
            let response = try await client.withClient { grpc in
                try await Csi_V1_Node.Client(wrapping: grpc).nodeGetCapabilities(.init(), options: options)
            }
            try ClientCommand.printJSON(response)
        }
    }

    struct Info: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "NodeGetInfo.")
        @ParentCommand var client: ClientCommand

        func run() async throws {
            let options = client.callOptions
            let response = try await client.withClient { grpc in
                try await Csi_V1_Node.Client(wrapping: grpc).nodeGetInfo(.init(), options: options)
            }
            try ClientCommand.printJSON(response)
        }
    }
}
