import ArgumentParser
import CSIProtocol
import HostOperations

/// The request fields shared by `client node stage` and `client node publish`.
struct VolumeArguments: ParsableArguments {
    @Option(name: .customLong("volume-id"), help: "Volume id.")
    var volumeID: String = ""

    @Option(name: .customLong("staging-path"), help: "staging_target_path (kubelet's globalmount directory).")
    var stagingPath: String = ""

    @Flag(help: "Block access instead of a filesystem mount.")
    var block = false

    @Option(name: .customLong("fs-type"), help: "Filesystem type for mount access.")
    var fsType: String = "ext4"

    @Option(name: .customLong("mount-flag"), help: "A mount flag of the capability (repeatable).")
    var mountFlags: [String] = []

    @Option(name: .customLong("access-mode"), help: "single-node-writer, single-node-reader-only, multi-node-reader-only, multi-node-single-writer, multi-node-multi-writer, single-node-single-writer, single-node-multi-writer.")
    var accessMode: String = "single-node-writer"

    @Option(name: .customLong("context"), help: "A volume context entry KEY=VALUE (repeatable).")
    var context: [String] = []

    @Option(name: .customLong("secret"), help: "A non-sensitive secret entry KEY=VALUE, e.g. userID=… (repeatable). Keys go through --secret-file.")
    var secrets: [String] = []

    @Option(name: .customLong("secret-file"), help: "A secret KEY=PATH read from a file, or from standard input with PATH '-', e.g. userKey=- (repeatable).")
    var secretFiles: [String] = []

    /// Secret entries that must not appear in a command line (`ps` shows it to every user).
    static let sensitiveSecrets: Set<String> = ["userKey", "adminKey", "key", "encryptionPassphrase"]

    /// The request's secrets: `--secret` entries, then `--secret-file` entries read from their files.
    func secretValues() throws -> [String: String] {
        try Self.secretValues(secrets: secrets, secretFiles: secretFiles)
    }

    static func secretValues(secrets: [String], secretFiles: [String]) throws -> [String: String] {
        var result = try Self.pairs(secrets, flag: "secret")
        for key in result.keys where Self.sensitiveSecrets.contains(key) {
            throw ValidationError("--secret \(key)=… would show the key in the process list; use --secret-file \(key)=PATH (or =- for standard input)")
        }
        for (key, path) in try Self.pairs(secretFiles, flag: "secret-file") {
            result[key] = try Self.readSecret(path)
        }
        return result
    }

    /// A file's content (standard input for `-`), without one trailing newline.
    static func readSecret(_ path: String) throws -> String {
        let text: String
        if path == "-" {
            var lines: [String] = []
            while let line = readLine(strippingNewline: false) { lines.append(line) }
            text = lines.joined()
        } else {
            do { text = try FileText.read(path) } catch { throw ValidationError("--secret-file: cannot read \(path): \(error)") }
        }
        if text.hasSuffix("\r\n") { return String(text.dropLast(2)) }
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }

    func capability() throws -> Csi_V1_VolumeCapability {
        try Self.capability(block: block, fsType: fsType, mountFlags: mountFlags, accessMode: accessMode)
    }

    static func capability(block: Bool, fsType: String = "ext4", mountFlags: [String] = [], accessMode: String = "single-node-writer") throws -> Csi_V1_VolumeCapability {
        let modes: [String: Csi_V1_VolumeCapability.AccessMode.Mode] = [
            "single-node-writer": .singleNodeWriter, "single-node-reader-only": .singleNodeReaderOnly,
            "multi-node-reader-only": .multiNodeReaderOnly, "multi-node-single-writer": .multiNodeSingleWriter,
            "multi-node-multi-writer": .multiNodeMultiWriter, "single-node-single-writer": .singleNodeSingleWriter,
            "single-node-multi-writer": .singleNodeMultiWriter,
        ]
        guard let mode = modes[accessMode] else { throw ValidationError("unknown --access-mode \(accessMode)") }
        return .with {
            if block {
                $0.block = .init()
            } else {
                $0.mount = .with {
                    $0.fsType = fsType
                    $0.mountFlags = mountFlags
                }
            }
            $0.accessMode = .with { $0.mode = mode }
        }
    }

    static func pairs(_ items: [String], flag: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for item in items {
            guard let equals = item.firstIndex(of: "=") else { throw ValidationError("--\(flag) \(item): expected KEY=VALUE") }
            result[String(item[..<equals])] = String(item[item.index(after: equals)...])
        }
        return result
    }
}
