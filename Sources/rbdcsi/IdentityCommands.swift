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
        static let configuration = CommandConfiguration(commandName: "info", abstract: "GetPluginInfo.")
        @ParentCommand var client: ClientCommand

        func run() async throws {
            try await client.call { grpc, options in
                try await Csi_V1_Identity.Client(wrapping: grpc).getPluginInfo(.init(), options: options)
            }
        }
    }

    struct Caps: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "caps", abstract: "GetPluginCapabilities.")
        @ParentCommand var client: ClientCommand

        func run() async throws {
            try await client.call { grpc, options in
                try await Csi_V1_Identity.Client(wrapping: grpc).getPluginCapabilities(.init(), options: options)
            }
        }
    }

    struct Probe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "probe", abstract: "Probe.")
        @ParentCommand var client: ClientCommand

        func run() async throws {
            try await client.call { grpc, options in
                try await Csi_V1_Identity.Client(wrapping: grpc).probe(.init(), options: options)
            }
        }
    }
}
