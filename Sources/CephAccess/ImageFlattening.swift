import CLibCeph

#if canImport(Glibc)
import Glibc
#endif

/// What a flatten request came to.
public enum FlattenOutcome: Sendable, Hashable {
    /// The image has no parent (any more): nothing to do.
    case noParent
    /// The manager's `rbd_support` module flattens it in the background.
    case queued
    /// Flattened before the call returned.
    case flattened
}

/// Flattens clones: as ceph-csi does, through the manager's task queue
/// (`rbd task add flatten`) where the manager offers it, else directly through librbd. Blocks.
public enum ImageFlattening {
    /// Queues a flatten task; nil when the manager cannot take it (no `rbd_support` handler,
    /// or the user lacks `mgr 'profile rbd'`), ceph-csi's two cases for the librbd fallback.
    public static func queue(_ spec: ImageSpec, on connection: RadosConnection) throws(CephAccessError) -> FlattenOutcome? {
        let reply = connection.managerCommand(#"{"prefix":"rbd task add flatten","image_spec":\#(jsonString(spec.description)),"format":"json"}"#)
        if reply.result == 0 { return .queued }
        if reply.status.contains("does not have a parent") { return .noParent }
        if reply.status.contains("No handler found") || reply.status.contains("access denied") || reply.result == -EACCES {
            return nil
        }
        if reply.result == -ENOENT { throw .imageNotFound(spec) }
        throw .callFailed(operation: "add a manager task to flatten \(spec) (\(reply.status))", errno: -reply.result)
    }

    /// Flattens the image now (copies every block its parent supplies).
    public static func flattenNow(_ spec: ImageSpec, in ioctx: rados_ioctx_t) throws(CephAccessError) -> FlattenOutcome {
        try RBDImage.withOpen(spec, in: ioctx, readOnly: false) { handle throws(CephAccessError) in
            let result = rbd_flatten(handle)
            if result == -EINVAL { return .noParent }
            guard result == 0 else { throw .callFailed(operation: "flatten image \(spec)", errno: -result) }
            return .flattened
        }
    }

    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
