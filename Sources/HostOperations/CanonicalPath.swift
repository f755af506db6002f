#if canImport(Glibc)
import Glibc
#endif

/// The rule for every path a CO hands the plugin (staging and target paths): absolute, in
/// canonical form, and free of symbolic links.
///
/// kubelet only ever sends such paths. A relative path, a `..` component or a link anywhere
/// in it would make "the staging path" mean two different places over a volume's life (the
/// stash written through the link, the mount looked up without it) and could point a
/// root-owned mkdir, chmod or mount at `/etc`. Checking once and refusing is simpler and safer
/// than resolving: nothing is written outside the directory that was named.
public enum CanonicalPath {
    public static let maximumLength = Int(PATH_MAX) - 1

    /// Why `path` is refused, or nil when it is acceptable. Components that do not exist yet
    /// end the walk (a target path kubelet has not created is fine).
    public static func problem(with path: String) -> String? {
        guard !path.isEmpty else { return "the path is empty" }
        guard path.utf8.count <= maximumLength else { return "the path is longer than \(maximumLength) bytes" }
        guard !path.utf8.contains(0) else { return "the path contains a NUL byte" }
        guard path.hasPrefix("/") else { return "the path is not absolute" }
        guard path != "/" else { return "the path is the root directory" }
        let components = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for component in components {
            if component.isEmpty { return "the path has an empty component ('//' or a trailing '/')" }
            if component == "." || component == ".." { return "the path has a '\(component)' component" }
        }
        var prefix = ""
        for (index, component) in components.enumerated() {
            prefix += "/" + component
            switch HostPaths.kind(of: prefix) {
            case .missing: return nil
            case .symbolicLink: return "\(prefix) is a symbolic link"
            case .directory: continue
            default:
                if index < components.count - 1 { return "\(prefix) is not a directory" }
            }
        }
        return nil
    }
}
