/// Where the plugin listens: a unix socket path, from `--endpoint unix://PATH`.
public struct PluginEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// The absolute path of the unix socket.
    public var socketPath: String

    public init(socketPath: String) {
        self.socketPath = socketPath
    }

    /// Parses `unix://PATH` (`unix:///csi/csi.sock`). `tcp://` endpoints are refused: kubelet
    /// talks to node plugins over a unix socket, and a TCP port would expose the node's mounts.
    public init(parsing text: String) throws(PluginRuntimeError) {
        let lowered = text.lowercased()
        if lowered.hasPrefix("tcp://") {
            throw .badEndpoint(text, "tcp:// endpoints are not supported; use unix://PATH (kubelet talks to CSI plugins over a unix socket)")
        }
        guard lowered.hasPrefix("unix://") else {
            throw .badEndpoint(text, "expected unix://PATH, e.g. unix:///csi/csi.sock")
        }
        let path = String(text.dropFirst("unix://".count))
        guard path.hasPrefix("/") else {
            throw .badEndpoint(text, "the socket path must be absolute (unix:///dir/csi.sock)")
        }
        // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
        guard path.utf8.count <= 107 else {
            throw .badEndpoint(text, "the socket path is \(path.utf8.count) bytes long; unix sockets allow at most 107")
        }
        self.socketPath = path
    }

    public var description: String { "unix://\(socketPath)" }
}
