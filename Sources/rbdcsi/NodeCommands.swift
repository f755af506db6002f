import ArgumentParser
import CSIProtocol

/// `rbdcsi client node caps|info|…`.
struct NodeCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Node service calls.",
        subcommands: [Caps.self, Info.self, Stage.self, Publish.self, Unpublish.self, Unstage.self, Expand.self, Stats.self]
    )

    struct Caps: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "caps", abstract: "NodeGetCapabilities.")
        @ParentCommand var client: ClientCommand

        func run() async throws {
            try await client.call { grpc, options in
                try await Csi_V1_Node.Client(wrapping: grpc).nodeGetCapabilities(.init(), options: options)
            }
        }
    }

    struct Info: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "info", abstract: "NodeGetInfo.")
        @ParentCommand var client: ClientCommand

        func run() async throws {
            try await client.call { grpc, options in
                try await Csi_V1_Node.Client(wrapping: grpc).nodeGetInfo(.init(), options: options)
            }
        }
    }

    struct Stage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "stage", abstract: "NodeStageVolume.")
        @ParentCommand var client: ClientCommand
        @OptionGroup var volume: VolumeArguments

        func run() async throws {
            let request = try Csi_V1_NodeStageVolumeRequest.with {
                $0.volumeID = volume.volumeID
                $0.stagingTargetPath = volume.stagingPath
                $0.volumeCapability = try volume.capability()
                $0.secrets = try volume.secretValues()
                $0.volumeContext = try VolumeArguments.pairs(volume.context, flag: "context")
            }
            try await client.call { grpc, options in
                try await Csi_V1_Node.Client(wrapping: grpc).nodeStageVolume(request, options: options)
            }
        }
    }

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "publish", abstract: "NodePublishVolume.")
        @ParentCommand var client: ClientCommand
        @OptionGroup var volume: VolumeArguments
        @Option(name: .customLong("target-path"), help: "target_path (the pod's volume directory).")
        var targetPath: String = ""
        @Flag(help: "Publish read-only.")
        var readonly = false

        func run() async throws {
            let request = try Csi_V1_NodePublishVolumeRequest.with {
                $0.volumeID = volume.volumeID
                $0.stagingTargetPath = volume.stagingPath
                $0.targetPath = targetPath
                $0.readonly = readonly
                $0.volumeCapability = try volume.capability()
                $0.secrets = try volume.secretValues()
                $0.volumeContext = try VolumeArguments.pairs(volume.context, flag: "context")
            }
            try await client.call { grpc, options in
                try await Csi_V1_Node.Client(wrapping: grpc).nodePublishVolume(request, options: options)
            }
        }
    }

    struct Unpublish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "unpublish", abstract: "NodeUnpublishVolume.")
        @ParentCommand var client: ClientCommand
        @Option(name: .customLong("volume-id")) var volumeID: String = ""
        @Option(name: .customLong("target-path")) var targetPath: String = ""

        func run() async throws {
            let request = Csi_V1_NodeUnpublishVolumeRequest.with {
                $0.volumeID = volumeID
                $0.targetPath = targetPath
            }
            try await client.call { grpc, options in
                try await Csi_V1_Node.Client(wrapping: grpc).nodeUnpublishVolume(request, options: options)
            }
        }
    }

    struct Unstage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "unstage", abstract: "NodeUnstageVolume.")
        @ParentCommand var client: ClientCommand
        @Option(name: .customLong("volume-id")) var volumeID: String = ""
        @Option(name: .customLong("staging-path")) var stagingPath: String = ""

        func run() async throws {
            let request = Csi_V1_NodeUnstageVolumeRequest.with {
                $0.volumeID = volumeID
                $0.stagingTargetPath = stagingPath
            }
            try await client.call { grpc, options in
                try await Csi_V1_Node.Client(wrapping: grpc).nodeUnstageVolume(request, options: options)
            }
        }
    }

    struct Expand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "expand", abstract: "NodeExpandVolume (after the image grew).")
        @ParentCommand var client: ClientCommand
        @Option(name: .customLong("volume-id")) var volumeID: String = ""
        @Option(name: .customLong("volume-path"), help: "The staging or a publish path.") var volumePath: String = ""
        @Option(name: .customLong("size"), help: "Required bytes (the new size).") var size: Int64 = 0

        func run() async throws {
            let request = Csi_V1_NodeExpandVolumeRequest.with {
                $0.volumeID = volumeID
                $0.volumePath = volumePath
                if size > 0 { $0.capacityRange = .with { $0.requiredBytes = size } }
            }
            try await client.call { grpc, options in
                try await Csi_V1_Node.Client(wrapping: grpc).nodeExpandVolume(request, options: options)
            }
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "stats", abstract: "NodeGetVolumeStats.")
        @ParentCommand var client: ClientCommand
        @Option(name: .customLong("volume-id")) var volumeID: String = ""
        @Option(name: .customLong("volume-path")) var volumePath: String = ""

        func run() async throws {
            let request = Csi_V1_NodeGetVolumeStatsRequest.with {
                $0.volumeID = volumeID
                $0.volumePath = volumePath
            }
            try await client.call { grpc, options in
                try await Csi_V1_Node.Client(wrapping: grpc).nodeGetVolumeStats(request, options: options)
            }
        }
    }
}
