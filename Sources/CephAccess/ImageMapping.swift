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

    public init(spec: ImageSpec, monitors: String, userID: String, key: String, readOnly: Bool, options: [String], volumeID: String) {
        self.spec = spec
        self.monitors = monitors
        self.userID = userID
        self.key = key
        self.readOnly = readOnly
        self.options = options
        self.volumeID = volumeID
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
}

extension ImageMapping {
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
}
