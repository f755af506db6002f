import HostOperations

/// Decides what Probe answers. Cheap: it runs on every liveness probe.
public protocol ReadinessChecking: Sendable {
    /// Nil when the plugin is ready, otherwise why it is not.
    func notReadyReason() async -> String?
}

/// Ready when every program the node operations need can be found on `PATH`.
public struct ToolReadinessCheck: ReadinessChecking {
    public var tools: [String]

    public init(tools: [String]) {
        self.tools = tools
    }

    public func notReadyReason() async -> String? {
        let missing = tools.filter { ExecutableSearch.find($0) == nil }
        return missing.isEmpty ? nil : "missing programs on PATH: \(missing.joined(separator: ", "))"
    }
}
