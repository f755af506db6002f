#if canImport(Glibc)
import Glibc
#endif

/// Processes found through `/proc`, by their command line.
public enum ProcessTable {
    /// The pids whose argv satisfies `matches` (argv[0] first).
    public static func pids(where matches: ([String]) -> Bool) -> [pid_t] {
        let names = (try? DirectoryEntries.names(in: "/proc")) ?? []
        return names.compactMap { name -> pid_t? in
            guard let pid = pid_t(name), let text = try? FileText.read("/proc/\(name)/cmdline") else { return nil }
            let argv = text.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
            return matches(argv) ? pid : nil
        }
    }

    /// Whether `pid` still runs (a zombie counts as gone).
    public static func isRunning(_ pid: pid_t) -> Bool {
        guard let stat = try? FileText.read("/proc/\(pid)/stat") else { return false }
        // The state follows the parenthesised command name, which may itself hold ')'.
        guard let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].trimmingWhitespace().first != "Z"
    }
}
