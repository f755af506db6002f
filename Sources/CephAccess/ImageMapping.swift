import HostOperations

/// Everything a mapper needs to attach one image.
public struct MapRequest: Sendable {
    public var spec: ImageSpec
    public var monitors: String
    public var userID: String
    /// The user's key; mappers hand it to their child as `Command.secretFile`, never as a
    /// file on disk (a key file would survive a SIGKILLed plugin).
    public var key: String
    public var readOnly: Bool
    public var options: [String]
    /// Used as the rbd-nbd cookie, so the mapping can be found again after a restart.
    public var volumeID: String
    /// rbd-nbd's client log file (`--log-file`); other mappers ignore it.
    public var logFile: String?
    /// The network namespace file the map command runs in (`nsenter --net=<path> -- …`).
    public var netNamespace: String?

    public init(
        spec: ImageSpec, monitors: String, userID: String, key: String, readOnly: Bool, options: [String], volumeID: String,
        logFile: String? = nil, netNamespace: String? = nil
    ) {
        self.spec = spec
        self.monitors = monitors
        self.userID = userID
        self.key = key
        self.readOnly = readOnly
        self.options = options
        self.volumeID = volumeID
        self.logFile = logFile
        self.netNamespace = netNamespace
    }
}

/// Attaches RBD images as block devices on this node and detaches them again.
public protocol ImageMapping: Sendable {
    /// The device an image is already mapped to on this node, if any.
    func mappedDevice(of spec: ImageSpec) async throws -> String?
    /// Maps the image and returns the device path (`/dev/rbd0`, `/dev/nbd0`, `/dev/loop0`).
    func map(_ request: MapRequest) async throws -> String
    /// Unmaps the image; an image that is not mapped is not an error.
    func unmap(_ spec: ImageSpec, options: [String]) async throws
    /// Deals with what the mapper's child left for the volume once it is unmapped (rbd-nbd's
    /// client log, by `strategy`); what was done, for the log, or nil when there is nothing.
    func finishLog(volumeID: String, directory: String, strategy: String) async throws -> String?
}

/// A mapper whose device outlives its user-space daemon and can be given a new one (rbd-nbd:
/// the kernel keeps `/dev/nbdN` while it waits for a daemon to attach). The healer needs it.
public protocol ImageReattaching: ImageMapping {
    /// Starts a new daemon for the image mapped at `device`, which keeps its number.
    func reattach(_ request: MapRequest, device: String) async throws
}

extension ImageMapping {
    /// krbd and rbd-fuse mappings leave no per-volume log.
    public func finishLog(volumeID: String, directory: String, strategy: String) async throws -> String? { nil }

    /// Runs a map command and returns the device it prints. A map killed by its timeout may
    /// still have created the device, so it is unmapped again before the error is rethrown.
    func runMap(_ command: Command, spec: ImageSpec, runner: any CommandRunning) async throws -> String {
        do {
            return try await runner.runChecked(command).standardOutput.trimmingWhitespace()
        } catch let error as CommandError {
            if case .timedOut = error { try? await unmap(spec, options: []) }
            throw error
        }
    }
}

extension MapRequest {
    /// The key as the secret file of a map command.
    var secretFile: [UInt8] { Array(key.utf8) }

    /// The map command `program arguments`, run in the request's network namespace if it has
    /// one, as ceph-csi does: `nsenter --net=<path> -- program arguments` (the key on fd 3
    /// passes through nsenter's exec).
    func mapCommand(_ program: String, _ arguments: [String], timeout: Duration) -> Command {
        guard let netNamespace else { return Command(program, arguments, timeout: timeout, secretFile: secretFile) }
        return Command("nsenter", ["--net=\(netNamespace)", "--", program] + arguments, timeout: timeout, secretFile: secretFile)
    }
}
