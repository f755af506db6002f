import HostOperations

#if canImport(Glibc)
import Glibc
#endif

/// rbd-nbd's client log file, as ceph-csi names and handles it: `<cephLogDir>/rbd-nbd-<volID>.log`
/// while the volume is mapped, and on unmap removed, compressed (`.gz`) or kept according to
/// the volume context's `cephLogStrategy`.
public enum CephLogFile {
    /// ceph-csi's defaults for `cephLogDir` and `cephLogStrategy`.
    public static let defaultDirectory = "/var/log/ceph"
    public static let defaultStrategy = "remove"

    /// The log file of volume `volumeID` (a validated path component) in `directory`.
    public static func path(volumeID: String, directory: String) -> String {
        "\(directory.isEmpty ? defaultDirectory : directory)/rbd-nbd-\(volumeID).log"
    }

    /// Applies `strategy` to the log at `path` after an unmap. A missing file is fine;
    /// an unknown strategy keeps the file, as ceph-csi does (it only logs the mistake). Returns
    /// what was done, for the log.
    public static func finish(_ path: String, strategy: String, runner: any CommandRunning) async throws -> String {
        guard HostPaths.exists(path) else { return "no log file" }
        switch strategy.lowercased() {
        case "remove", "":
            try HostPaths.remove(path)
            return "removed"
        case "compress":
            // gzip replaces the file with `<path>.gz`, as ceph-csi's GzipLogFile does.
            try await runner.runChecked(Command("gzip", ["-f", path], timeout: .seconds(60)))
            return "compressed"
        case "preserve":
            return "kept"
        default:
            return "kept (unknown cephLogStrategy \(strategy); use remove, compress or preserve)"
        }
    }
}

/// Whether rbd-nbd may be given `--cookie`: a kernel of 5.14 or later and an rbd-nbd whose
/// `--help` lists the flag (ceph-csi's two checks). Asked once, on the first rbd-nbd map.
public actor NBDCookieSupport {
    private var known: Bool?

    public init(known: Bool? = nil) {
        self.known = known
    }

    public func supported(runner: any CommandRunning) async -> Bool {
        if let known { return known }
        let kernel = Self.kernelSupportsCookies(release: Self.kernelRelease())
        var tool = false
        if kernel, let help = try? await runner.run(Command("rbd-nbd", ["--help"], timeout: .seconds(10))) {
            tool = (help.standardOutput + help.standardError).contains("--cookie")
        }
        known = kernel && tool
        return kernel && tool
    }

    /// `uname -r` of this kernel.
    static func kernelRelease() -> String {
        var name = utsname()
        guard uname(&name) == 0 else { return "" }
        return withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// Kernel releases from 5.14 on have the NBD cookie (e.g. `6.1.0-18-amd64`).
    static func kernelSupportsCookies(release: String) -> Bool {
        let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard numbers.count == 2 else { return false }
        return (numbers[0], numbers[1]) >= (5, 14)
    }
}
