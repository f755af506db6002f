/// Names one RBD image: `pool[/namespace]/image`, the spec `rbd` commands take.
public struct ImageSpec: Sendable, Hashable, Codable, CustomStringConvertible {
    public var pool: String
    /// The RADOS namespace; empty for the pool's default namespace.
    public var radosNamespace: String
    public var image: String

    public init(pool: String, radosNamespace: String = "", image: String) {
        self.pool = pool
        self.radosNamespace = radosNamespace
        self.image = image
    }

    /// `pool/image` or `pool/namespace/image`.
    public var description: String {
        radosNamespace.isEmpty ? "\(pool)/\(image)" : "\(pool)/\(radosNamespace)/\(image)"
    }
}

extension ImageSpec {
    /// Throws `invalidString` unless pool, namespace and image pass `CephStringRule.name`:
    /// librbd takes them as C strings, and a NUL would cut one short.
    public func check() throws(CephAccessError) {
        try CephStringRule.name.check(pool, as: "pool name \(pool.debugDescription)")
        try CephStringRule.name.check(radosNamespace, as: "RADOS namespace \(radosNamespace.debugDescription)")
        try CephStringRule.name.check(image, as: "image name \(image.debugDescription)")
    }
}
