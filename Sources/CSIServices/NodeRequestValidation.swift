import CSIProtocol
import HostOperations

/// Checks shared by the Node RPCs; each failure is INVALID_ARGUMENT with ceph-csi's wording.
enum NodeRequestValidation {
    static func volumeID(_ id: String) throws {
        guard !id.isEmpty else { throw CSIError.invalidArgument("volume ID missing in request") }
        // The id becomes a path component under the staging path: it must not escape it.
        guard id.utf8.count <= 255 else {
            throw CSIError.invalidArgument("volume ID is \(id.utf8.count) bytes long; at most 255 are accepted")
        }
        // Control characters (newline, ESC, NUL) have no place in a volume id and would forge
        // log lines or terminal output.
        guard !id.contains("/"), id != ".", id != "..", !id.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
            throw CSIError.invalidArgument("volume ID \(id.debugDescription) is not a valid path component ('/', control characters, '.' and '..' are refused)")
        }
    }

    static func stagingPath(_ path: String) throws {
        guard !path.isEmpty else { throw CSIError.invalidArgument("staging target path missing in request") }
        try canonical(path, "staging target path")
    }

    static func targetPath(_ path: String) throws {
        guard !path.isEmpty else { throw CSIError.invalidArgument("target path missing in request") }
        try canonical(path, "target path")
    }

    /// A stats or expand path that is not canonical names no volume of this plugin: NOT_FOUND
    /// (the spec's code for a path without a volume), and nothing is opened.
    static func volumePath(_ path: String) throws {
        guard !path.isEmpty else { throw CSIError.invalidArgument("volume path missing in request") }
        if let problem = CanonicalPath.problem(with: path) {
            throw CSIError.notFound("no volume at \(String(path.prefix(512)).debugDescription): \(problem)")
        }
    }

    /// Paths must be absolute, canonical and free of symbolic links (see `CanonicalPath`).
    private static func canonical(_ path: String, _ what: String) throws {
        if let problem = CanonicalPath.problem(with: path) {
            throw CSIError.invalidArgument("\(what) \(String(path.prefix(512)).debugDescription) is refused: \(problem); expected an absolute path without '.', '..' or symbolic links, as kubelet gives")
        }
    }

    static func capability(_ request: Csi_V1_VolumeCapability?, present: Bool) throws -> Csi_V1_VolumeCapability {
        guard present, let request else { throw CSIError.invalidArgument("volume capability missing in request") }
        guard request.accessType != nil else {
            throw CSIError.invalidArgument("volume capability must have block or mount access type")
        }
        return request
    }
}

extension Csi_V1_VolumeCapability {
    var isBlock: Bool { if case .block = accessType { return true } else { return false } }

    /// *_READER_ONLY access, or an explicit `ro` mount flag.
    var isReadOnly: Bool {
        accessMode.mode == .singleNodeReaderOnly || accessMode.mode == .multiNodeReaderOnly || mount.mountFlags.contains("ro")
    }

    /// MULTI_NODE_* access: the image is meant to be mapped on several nodes at once.
    var isMultiNode: Bool {
        [.multiNodeReaderOnly, .multiNodeSingleWriter, .multiNodeMultiWriter].contains(accessMode.mode)
    }

    /// The capability's mount flags, without duplicates, in order.
    var uniqueMountFlags: [String] {
        var seen: Set<String> = []
        return mount.mountFlags.filter { seen.insert($0).inserted }
    }
}

/// Appends the options not already present.
func appendingUnique(_ options: [String], _ more: [String]) -> [String] {
    var result = options
    for option in more where !result.contains(option) { result.append(option) }
    return result
}
