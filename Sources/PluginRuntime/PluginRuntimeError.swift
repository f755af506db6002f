/// Why the plugin process cannot start or serve. Each is printed as one line at start-up.
public enum PluginRuntimeError: Error, Sendable, Hashable, CustomStringConvertible {
    case badEndpoint(String, String)
    case socketInUse(path: String, holder: String)
    case cannotPrepareSocket(path: String, reason: String)
    case badFlag(String)

    public var description: String {
        switch self {
        case let .badEndpoint(endpoint, why):
            return "invalid --endpoint \(endpoint): \(why)"
        case let .socketInUse(path, holder):
            return "another plugin instance is already serving \(path) (\(holder)); refusing to take over its socket"
        case let .cannotPrepareSocket(path, reason):
            return "cannot prepare socket \(path): \(reason)"
        case let .badFlag(message):
            return message
        }
    }
}
