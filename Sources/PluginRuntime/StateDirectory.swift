import HostOperations

#if canImport(Glibc)
import Glibc
#endif

/// The plugin's own state directory (`--statedir`): rbd-fuse mounts and logs.
public enum StateDirectory {
    /// Creates the directory (mode 0700), removes the clear-text key files that plugins before
    /// this one wrote under `keys/` and a SIGKILL could leave behind, and returns the
    /// directory's canonical path (loop devices record the canonical path of their file, and
    /// the plugin recognises its own devices by it).
    public static func prepare(_ path: String) throws -> String {
        try HostPaths.makeDirectories(path, mode: 0o700)
        let keys = path + "/keys"
        if HostPaths.isDirectory(keys) {
            for name in (try? DirectoryEntries.names(in: keys)) ?? [] where name.hasPrefix("keyfile-") {
                unlink(keys + "/" + name)
            }
            rmdir(keys)
        }
        guard let resolved = realpath(path, nil) else { throw HostError.system("realpath \(path)", errno) }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
