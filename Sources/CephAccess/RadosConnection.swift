import CCephLoader
import CLibCeph
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One connected librados cluster handle. Its methods block (run them through
/// `BlockingCall`); librados makes each give up after the connection's time limit.
/// The handle is shut down when the last reference goes.
public final class RadosConnection: @unchecked Sendable {
    // librados handles are thread-safe; the pointer itself never changes.
    private let cluster: rados_t
    private let shutDown = Atomic<Bool>(false)

    /// Creates a handle for `access`, reading ceph.conf and CEPH_ARGS like the rbd CLI does,
    /// with the monitors, the key and the time limits set last so they win; then connects.
    public init(access: ClusterAccess, limit: Duration) throws(CephAccessError) {
        // librados and librbd are opened on the first connection, not at start (idle memory).
        var loadError = [CChar](repeating: 0, count: 512)
        guard rbdcsi_ceph_load(&loadError, loadError.count) == 0 else {
            throw .libraryMissing(String(decoding: loadError.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        try CephStringRule.text.check(access.credentials.userID, as: "userID")
        try CephStringRule.text.check(access.monitorList, as: "monitor list")
        try CephKey.check(access.credentials.key, user: access.credentials.userID)
        var handle: rados_t?
        let created = rados_create(&handle, access.credentials.userID)
        guard created == 0, let handle else { throw .callFailed(operation: "rados_create", errno: -created) }
        cluster = handle
        // A missing ceph.conf is fine: everything needed is set below.
        _ = rados_conf_read_file(handle, nil)
        _ = rados_conf_parse_env(handle, nil)
        let seconds = String(max(1, limit.components.seconds))
        let settings = [
            ("mon_host", access.monitorList), ("key", access.credentials.key),
            ("client_mount_timeout", seconds), ("rados_mon_op_timeout", seconds), ("rados_osd_op_timeout", seconds),
            ("log_to_stderr", "false"), ("err_to_stderr", "false"), ("log_file", ""),
        ]
        for (name, value) in settings {
            let result = rados_conf_set(handle, name, value)
            guard result == 0 else { throw .callFailed(operation: "rados_conf_set \(name)", errno: -result) }
        }
        let connected = rados_connect(handle)
        guard connected == 0 else {
            if -connected == EACCES || -connected == EPERM {
                throw .accessDenied(monitors: access.monitorList, user: access.credentials.userID, reason: CephAccessError.errnoText(-connected))
            }
            throw .unreachable(monitors: access.monitorList, reason: CephAccessError.errnoText(-connected))
        }
    }

    deinit {
        shutdown()
    }

    /// Whether `shutdown` was called.
    public var isShutDown: Bool { shutDown.load(ordering: .acquiring) }

    /// Closes the handle and joins librados' threads (blocks: run it through `BlockingCall`).
    /// Only the first call does anything; the handle must not be used after it.
    public func shutdown() {
        guard shutDown.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        rados_shutdown(cluster)
    }

    /// The name of the pool with id `id`.
    public func poolName(id: Int64) throws(CephAccessError) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let result = rados_pool_reverse_lookup(cluster, id, &buffer, buffer.count)
        if result == -ENOENT { throw .poolNotFound(id: id) }
        guard result >= 0 else { throw .callFailed(operation: "look up pool id \(id)", errno: -result) }
        return String(nulTerminated: buffer)
    }

    /// The id of the pool named `name`.
    public func poolID(named name: String) throws(CephAccessError) -> Int64 {
        try CephStringRule.name.check(name, as: "pool name \(name.debugDescription)")
        let result = rados_pool_lookup(cluster, name)
        if result == -Int64(ENOENT) { throw .poolNamedNotFound(name) }
        guard result >= 0 else { throw .callFailed(operation: "look up pool \(name)", errno: Int32(-result)) }
        return result
    }

    /// Runs `body` with an I/O context on `pool` and RADOS namespace `namespace`.
    public func withIOContext<R>(pool: String, namespace: String, _ body: (rados_ioctx_t) throws(CephAccessError) -> R) throws(CephAccessError) -> R {
        try CephStringRule.name.check(pool, as: "pool name \(pool.debugDescription)")
        try CephStringRule.name.check(namespace, as: "RADOS namespace \(namespace.debugDescription)")
        var ioctx: rados_ioctx_t?
        let result = rados_ioctx_create(cluster, pool, &ioctx)
        guard result == 0, let ioctx else {
            throw .callFailed(operation: "open pool \(pool)", errno: -result)
        }
        defer { rados_ioctx_destroy(ioctx) }
        rados_ioctx_set_namespace(ioctx, namespace)
        return try body(ioctx)
    }
}

extension RadosConnection {
    /// The answer to a manager command: its return code (0 or a negative errno), its output
    /// and its status text.
    public struct CommandReply: Sendable {
        public var result: Int32
        public var output: String
        public var status: String
    }

    /// Sends one JSON command to the active manager (e.g. `rbd task add flatten`). Blocks, up
    /// to the connection's time limit.
    public func managerCommand(_ json: String) -> CommandReply {
        var outbuf: UnsafeMutablePointer<CChar>?
        var outlen = 0
        var outs: UnsafeMutablePointer<CChar>?
        var outslen = 0
        let command = strdup(json)
        defer { free(command) }
        var commands: [UnsafePointer<CChar>?] = [UnsafePointer(command)]
        let result = rados_mgr_command(cluster, &commands, 1, nil, 0, &outbuf, &outlen, &outs, &outslen)
        defer {
            if let outbuf { rados_buffer_free(outbuf) }
            if let outs { rados_buffer_free(outs) }
        }
        func text(_ pointer: UnsafeMutablePointer<CChar>?, _ length: Int) -> String {
            guard let pointer, length > 0 else { return "" }
            return pointer.withMemoryRebound(to: UInt8.self, capacity: length) { String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self) }
        }
        return CommandReply(result: result, output: text(outbuf, outlen), status: text(outs, outslen))
    }
}
