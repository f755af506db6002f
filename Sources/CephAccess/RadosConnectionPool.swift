import CLibCeph
import CoreMetrics

/// Connected librados handles shared by calls to the same cluster as the same user, as
/// ceph-csi's connection pool does: one handle per (monitors, user, key), closed after it has
/// been idle for `idleExpiry`. Every connect and call is bounded by `limit`.
public actor RadosConnectionPool {
    private struct Key: Hashable {
        var monitors: String
        var user: String
        var key: String
    }

    private struct Entry {
        var connection: RadosConnection
        var users = 0
        var lastUsed: ContinuousClock.Instant
    }

    /// The time limit of each connect and each call.
    public let limit: Duration
    public let idleExpiry: Duration
    private var entries: [Key: Entry] = [:]
    private var connecting: [Key: Task<RadosConnection, any Error>] = [:]
    private var sweeper: Task<Void, Never>?
    private var closed = false

    public init(limit: Duration = .seconds(10), idleExpiry: Duration = .seconds(15 * 60)) {
        self.limit = limit
        self.idleExpiry = idleExpiry
    }

    /// The number of pooled connections (for tests and metrics).
    public var count: Int { entries.count }

    /// Runs the blocking `body` with a connection to `access`, bounded by `limit`. A call that
    /// times out drops the connection from the pool, so the next call connects afresh.
    public func withConnection<R: Sendable>(
        to access: ClusterAccess, operation: String, _ body: @escaping @Sendable (RadosConnection) throws -> R
    ) async throws -> R {
        let key = Key(monitors: access.monitorList, user: access.credentials.userID, key: access.credentials.key)
        let connection = try await connection(for: key, access: access)
        entries[key]?.users += 1
        defer {
            if entries[key]?.connection === connection {
                entries[key]?.users -= 1
                entries[key]?.lastUsed = .now
            }
        }
        do {
            return try await CephCallMetrics.measure(.call) {
                try await BlockingCall.run(operation, limit: limit) { try body(connection) }
            }
        } catch CephAccessError.timedOut(let operation, let limit) {
            if entries[key]?.connection === connection { entries[key] = nil }
            throw CephAccessError.timedOut(operation: operation, limit: limit)
        }
        // A cancelled caller's call is either never started (CancellationError, the
        // connection untouched) or waited for: no call runs on after it returns.
    }

    private func connection(for key: Key, access: ClusterAccess) async throws -> RadosConnection {
        guard !closed else { throw Self.closedError(key) }
        if let entry = entries[key] { return entry.connection }
        if let pending = connecting[key] {
            let connection = try await pending.value
            // The pool closed meanwhile: its connector shuts this connection down.
            guard !closed else { throw Self.closedError(key) }
            return connection
        }
        let limit = self.limit
        let task = Task {
            try await CephCallMetrics.measure(.connect) {
                try await BlockingCall.run("connect to \(access.monitorList)", limit: limit + .seconds(2)) {
                    try RadosConnection(access: access, limit: limit)
                }
            }
        }
        connecting[key] = task
        defer { connecting[key] = nil }
        let connection = try await task.value
        guard !closed else {
            // Closed while connecting: this connection must not outlive the pool either.
            await shutDown([key: Entry(connection: connection, lastUsed: .now)])
            throw Self.closedError(key)
        }
        entries[key] = Entry(connection: connection, lastUsed: .now)
        startSweeper()
        return connection
    }

    /// Closes connections idle for longer than `idleExpiry`; stops when none are left.
    private func startSweeper() {
        guard sweeper == nil else { return }
        let period = idleExpiry / 2
        sweeper = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: period)
                guard let self, await self.sweep() else { return }
            }
        }
    }

    /// Shuts every pooled connection down, each bounded by `limit`, and refuses new ones.
    /// Called once the services stopped serving: librados' threads must be gone before the
    /// process exits, or its exit-time destructors run under them (a crash at exit, seen
    /// after a benchmark run). A connection still held by a call that timed out was already
    /// dropped from the pool; it stays with that call, as does one still in use.
    public func close() async {
        closed = true
        sweeper?.cancel()
        sweeper = nil
        // A connection a call still uses is left to it: shutting it down under the call
        // would crash. (After the graceful drain there is none.)
        let idle = entries.filter { $0.value.users == 0 }
        entries = [:]
        await shutDown(idle)
    }

    /// What a call gets once the pool is closed (UNAVAILABLE, as for unreachable monitors).
    private static func closedError(_ key: Key) -> CephAccessError {
        .unreachable(monitors: key.monitors, reason: "the plugin is shutting down")
    }

    /// `rados_shutdown` joins librados' threads: it runs on the blocking executor, not here.
    private func shutDown(_ dropped: [Key: Entry]) async {
        for (key, entry) in dropped {
            _ = try? await BlockingCall.run("shut down the connection to \(key.monitors)", limit: limit) { entry.connection.shutdown() }
        }
    }

    /// Drops expired idle connections; whether any are left.
    private func sweep() async -> Bool {
        let now = ContinuousClock.now
        let expired = entries.filter { $0.value.users == 0 && now - $0.value.lastUsed >= idleExpiry }
        for key in expired.keys { entries[key] = nil }
        if entries.isEmpty { sweeper = nil }
        let anyLeft = !entries.isEmpty
        await shutDown(expired)
        return anyLeft
    }
}

extension RadosConnectionPool {
    /// Runs the blocking `body` with an I/O context on `pool` and RADOS namespace `namespace`,
    /// over a pooled connection to `access`, bounded like `withConnection`.
    public func withIOContext<R: Sendable>(
        pool: String, namespace: String, access: ClusterAccess, operation: String,
        _ body: @escaping @Sendable (rados_ioctx_t) throws(CephAccessError) -> R
    ) async throws -> R {
        try await withConnection(to: access, operation: operation) { connection in
            try connection.withIOContext(pool: pool, namespace: namespace, body)
        }
    }
}
