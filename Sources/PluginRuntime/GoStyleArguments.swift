/// Rewrites a ceph-csi (Go `flag` package) command line into the form swift-argument-parser
/// reads, so that existing DaemonSet manifests work unchanged.
///
/// - `-flag=value` and `-flag value` become `--flag=value` / `--flag value`;
/// - boolean flags take `--flag`, `--flag=true` and `--flag=false` (dropped);
/// - ceph-csi flags that this plugin does not need are removed and reported, not rejected.
public struct GoStyleArguments: Sendable, Equatable {
    /// The arguments to hand to the parser.
    public var arguments: [String]
    /// ceph-csi flags that were accepted and ignored, for a warning at start-up.
    public var ignored: [String]

    /// Flags that are booleans in ceph-csi.
    public static let booleanFlags: Set<String> = ["nodeserver", "controllerserver", "enable-read-affinity", "version"]

    /// ceph-csi flags accepted for compatibility and ignored, with whether they are booleans.
    public static let ignoredFlags: [String: Bool] = [
        "pidlimit": false, "polllatency": false, "histogramoption": false, "pluginpath": false,
        "clustername": false, "metadatastorage": false, "csi-addons-endpoint": false,
        "enablegrpcmetrics": true, "logtostderr": true, "alsologtostderr": true,
        "skipforceflatten": true, "forcecephkernelclient": true, "setmetadata": true,
        "enableprofiling": true,
    ]

    public init(_ raw: [String]) {
        var out: [String] = []
        var ignored: [String] = []
        var index = 0
        var passThrough = false
        while index < raw.count {
            let argument = raw[index]
            index += 1
            if passThrough || argument == "--" || !argument.hasPrefix("-") || argument == "-" {
                passThrough = passThrough || argument == "--"
                out.append(argument)
                continue
            }
            var body = argument.drop(while: { $0 == "-" })
            // Short flags such as -h stay as they are.
            if argument.hasPrefix("-") && !argument.hasPrefix("--") && body.count == 1 {
                out.append(argument)
                continue
            }
            var value: Substring?
            if let equals = body.firstIndex(of: "=") {
                value = body[body.index(after: equals)...]
                body = body[..<equals]
            }
            let name = String(body)
            if let isBoolean = Self.ignoredFlags[name] {
                ignored.append(name)
                if value == nil && !isBoolean && index < raw.count { index += 1 }
                continue
            }
            if Self.booleanFlags.contains(name), let value {
                switch value.lowercased() {
                case "true", "1", "t": out.append("--\(name)")
                case "false", "0", "f": break
                default: out.append("--\(name)=\(value)")  // the parser names the bad value
                }
                continue
            }
            out.append(value.map { "--\(name)=\($0)" } ?? "--\(name)")
        }
        self.arguments = out
        self.ignored = ignored
    }
}
