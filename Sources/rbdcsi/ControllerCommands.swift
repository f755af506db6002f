import ArgumentParser
import CSIProtocol

/// `rbdcsi client controller caps|create|delete|expand|validate|snapshot`.
struct ControllerCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract: "Controller service calls.",
        subcommands: [Caps.self, Create.self, Delete.self, Expand.self, Validate.self, SnapshotCommands.self]
    )

    struct Caps: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "caps", abstract: "ControllerGetCapabilities.")
        @ParentCommand var client: ClientCommand

        func run() async throws {
            try await client.call { grpc, options in
                try await Csi_V1_Controller.Client(wrapping: grpc).controllerGetCapabilities(.init(), options: options)
            }
        }
    }

    /// Secrets for controller calls: `--secret` and `--secret-file`, as for node calls.
    struct Secrets: ParsableArguments {
        @Option(name: .customLong("secret"), help: "A non-sensitive secret entry KEY=VALUE, e.g. userID=… (repeatable).")
        var secrets: [String] = []

        @Option(name: .customLong("secret-file"), help: "A secret KEY=PATH read from a file, or standard input with '-' (repeatable).")
        var secretFiles: [String] = []

        func values() throws -> [String: String] {
            try VolumeArguments.secretValues(secrets: secrets, secretFiles: secretFiles)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "CreateVolume.")
        @ParentCommand var client: ClientCommand
        @Option(help: "The request name (the PV name).")
        var name: String
        @Option(name: .customLong("size"), help: "Required bytes (rounded up as ceph-csi does: MiB below 1 GiB, else GiB).")
        var size: Int64 = 0
        @Flag(help: "Block access instead of a filesystem mount.")
        var block = false
        @Option(name: .customLong("access-mode"), help: "single-node-writer (default), multi-node-multi-writer, ….")
        var accessMode: String = "single-node-writer"
        @Option(name: .customLong("parameter"), help: "A StorageClass parameter KEY=VALUE (repeatable): clusterID, pool, imageFeatures, ….")
        var parameters: [String] = []
        @Option(name: .customLong("source-snapshot"), help: "Restore this snapshot id into the new volume.")
        var sourceSnapshot: String?
        @Option(name: .customLong("source-volume"), help: "Clone this volume id into the new volume.")
        var sourceVolume: String?
        @OptionGroup var secrets: Secrets

        func validate() throws {
            if sourceSnapshot != nil && sourceVolume != nil {
                throw ValidationError("--source-snapshot and --source-volume exclude each other")
            }
        }

        func run() async throws {
            let request = try Csi_V1_CreateVolumeRequest.with {
                $0.name = name
                if let sourceSnapshot { $0.volumeContentSource.snapshot.snapshotID = sourceSnapshot }
                if let sourceVolume { $0.volumeContentSource.volume.volumeID = sourceVolume }
                if size > 0 { $0.capacityRange = .with { $0.requiredBytes = size } }
                $0.volumeCapabilities = [try VolumeArguments.capability(block: block, accessMode: accessMode)]
                $0.parameters = try VolumeArguments.pairs(parameters, flag: "parameter")
                $0.secrets = try secrets.values()
            }
            try await client.call { grpc, options in
                try await Csi_V1_Controller.Client(wrapping: grpc).createVolume(request, options: options)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "DeleteVolume.")
        @ParentCommand var client: ClientCommand
        @Option(name: .customLong("volume-id"), help: "Volume id.")
        var volumeID: String
        @OptionGroup var secrets: Secrets

        func run() async throws {
            let request = try Csi_V1_DeleteVolumeRequest.with {
                $0.volumeID = volumeID
                $0.secrets = try secrets.values()
            }
            try await client.call { grpc, options in
                try await Csi_V1_Controller.Client(wrapping: grpc).deleteVolume(request, options: options)
            }
        }
    }

    struct Expand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "expand", abstract: "ControllerExpandVolume.")
        @ParentCommand var client: ClientCommand
        @Option(name: .customLong("volume-id"), help: "Volume id.")
        var volumeID: String
        @Option(name: .customLong("size"), help: "Required bytes.")
        var size: Int64
        @Flag(help: "The volume is used as a raw block device (no node expansion needed).")
        var block = false
        @OptionGroup var secrets: Secrets

        func run() async throws {
            let request = try Csi_V1_ControllerExpandVolumeRequest.with {
                $0.volumeID = volumeID
                $0.capacityRange = .with { $0.requiredBytes = size }
                $0.volumeCapability = try VolumeArguments.capability(block: block)
                $0.secrets = try secrets.values()
            }
            try await client.call { grpc, options in
                try await Csi_V1_Controller.Client(wrapping: grpc).controllerExpandVolume(request, options: options)
            }
        }
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "validate", abstract: "ValidateVolumeCapabilities.")
        @ParentCommand var client: ClientCommand
        @Option(name: .customLong("volume-id"), help: "Volume id.")
        var volumeID: String
        @Flag(help: "Block access instead of a filesystem mount.")
        var block = false
        @Option(name: .customLong("access-mode"), help: "single-node-writer (default), multi-node-multi-writer, ….")
        var accessMode: String = "single-node-writer"
        @OptionGroup var secrets: Secrets

        func run() async throws {
            let request = try Csi_V1_ValidateVolumeCapabilitiesRequest.with {
                $0.volumeID = volumeID
                $0.volumeCapabilities = [try VolumeArguments.capability(block: block, accessMode: accessMode)]
                $0.secrets = try secrets.values()
            }
            try await client.call { grpc, options in
                try await Csi_V1_Controller.Client(wrapping: grpc).validateVolumeCapabilities(request, options: options)
            }
        }
    }

    /// `controller snapshot create|delete`.
    struct SnapshotCommands: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "snapshot", abstract: "Snapshot calls.", subcommands: [Create.self, Delete.self]
        )

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "create", abstract: "CreateSnapshot.")
            @ParentCommand var client: ClientCommand
            @Option(help: "The request name (the VolumeSnapshotContent name).")
            var name: String
            @Option(name: .customLong("source-volume"), help: "Id of the volume to snapshot.")
            var sourceVolume: String
            @Option(name: .customLong("parameter"), help: "A VolumeSnapshotClass parameter KEY=VALUE (repeatable): clusterID, snapshotNamePrefix, ….")
            var parameters: [String] = []
            @OptionGroup var secrets: Secrets

            func run() async throws {
                let request = try Csi_V1_CreateSnapshotRequest.with {
                    $0.name = name
                    $0.sourceVolumeID = sourceVolume
                    $0.parameters = try VolumeArguments.pairs(parameters, flag: "parameter")
                    $0.secrets = try secrets.values()
                }
                try await client.call { grpc, options in
                    try await Csi_V1_Controller.Client(wrapping: grpc).createSnapshot(request, options: options)
                }
            }
        }

        struct Delete: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "delete", abstract: "DeleteSnapshot.")
            @ParentCommand var client: ClientCommand
            @Option(name: .customLong("snapshot-id"), help: "Snapshot id.")
            var snapshotID: String
            @OptionGroup var secrets: Secrets

            func run() async throws {
                let request = try Csi_V1_DeleteSnapshotRequest.with {
                    $0.snapshotID = snapshotID
                    $0.secrets = try secrets.values()
                }
                try await client.call { grpc, options in
                    try await Csi_V1_Controller.Client(wrapping: grpc).deleteSnapshot(request, options: options)
                }
            }
        }
    }
}
