#if canImport(Glibc)
import Glibc
#endif

/// The names in a directory, read with `opendir`/`readdir` (no Foundation on hot paths).
public enum DirectoryEntries {
    /// Every name but `.` and `..`; `limit` stops early (1 answers "is it empty?").
    public static func names(in directory: String, limit: Int = .max) throws -> [String] {
        guard let dir = opendir(directory) else { throw HostError.system("opendir \(directory)", errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while names.count < limit, let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
