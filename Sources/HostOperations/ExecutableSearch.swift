#if canImport(Glibc)
import Glibc
#endif

/// Finds programs the way `posix_spawnp` will: in the directories of `PATH`.
public enum ExecutableSearch {
    /// The full path of `name`, or nil when no executable of that name is on `PATH`.
    public static func find(_ name: String, path: String? = nil) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        let searchPath = path ?? (getenv("PATH").map { String(cString: $0) } ?? "/usr/sbin:/usr/bin:/sbin:/bin")
        for directory in searchPath.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
