import ArgumentParser
import CSIProtocol

/// `rbdcsi client identity info|caps|probe`.
struct IdentityCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identity",
        abstract: "Identity service calls.",
        subcommands: [Info.self, Caps.self, Probe.self]
    )

    struct Info: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "GetPluginInfo.")
        @ParentCommand var client: ClientCommand

        func run() async throws {
            let options = client.callOptions
            let response = try await client.withClient { grpc in
                try await Csi_V1_Identity.Client(wrapping: grpc).getPluginInfo(.init(), options: options)
            }
            try ClientCommand.printJSON(response)
        }
    }

    struct Caps: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "GetPluginCapabilities.")
        @ParentCommand var client: ClientCommand

        func run() async throws {
            let options = client.callOptions
            let response = try await client.withClient { grpc in
                try await Csi_V1_Identity.Client(wrapping: grpc).getPluginCapabilities(.init(), options: options)
            }
            try ClientCommand.printJSON(response)
        }
    }

    struct Probe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Probe.")
        @ParentCommand var client: ClientCommand

        func run() async throws {
            let options = client.callOptions
            let response = try await client.withClient { grpc in
                try await Csi_V1_Identity.Client(wrapping: grpc).probe(.init(), options: options)
            }
            try ClientCommand.printJSON(response)
        }
    }
}
