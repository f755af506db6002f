/// The kernel's table of unix sockets (`/proc/net/unix`).
public enum UnixSocketTable {
    /// Whether a socket bound to `path` is listening (flag `__SO_ACCEPTCON`). The socket file
    /// appears at bind(2), before listen(2): a client that connects in between is refused, so
    /// waiting for a server means waiting for this. Asking the table, unlike a probe
    /// connection, counts against none of the server's limits.
    public static func isListening(_ path: String) -> Bool {
        // Read to the end: Foundation's reader stops after the first page of a /proc file.
        guard let table = try? FileText.read("/proc/net/unix") else { return false }
        // Num RefCount Protocol Flags Type St Inode Path
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return fields.count >= 8 && fields[7] == path && fields[3] == "00010000"
        }
    }
}
