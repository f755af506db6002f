/// The objects the node plugin reads, by name. Names are checked first: they come from flags
/// and from other objects, and must never change the path asked for.
extension KubernetesClient {
    public func node(named name: String) async throws(KubernetesError) -> Node {
        try await get("/api/v1/nodes/\(try Self.checked(name))")
    }

    public func configMap(_ name: String, namespace: String) async throws(KubernetesError) -> ConfigMap {
        try await get("/api/v1/namespaces/\(try Self.checked(namespace))/configmaps/\(try Self.checked(name))")
    }

    public func secret(_ name: String, namespace: String) async throws(KubernetesError) -> Secret {
        try await get("/api/v1/namespaces/\(try Self.checked(namespace))/secrets/\(try Self.checked(name))")
    }

    public func persistentVolume(named name: String) async throws(KubernetesError) -> PersistentVolume {
        try await get("/api/v1/persistentvolumes/\(try Self.checked(name))")
    }

    /// Every VolumeAttachment of the cluster (the API has no server-side filter by node).
    public func volumeAttachments() async throws(KubernetesError) -> [VolumeAttachment] {
        try await get("/apis/storage.k8s.io/v1/volumeattachments", as: ObjectList<VolumeAttachment>.self).items
    }

    public func serverVersion() async throws(KubernetesError) -> ServerVersion {
        try await get("/version")
    }

    /// `name` when it can be an object name (a DNS subdomain: lower-case letters, digits, `-`
    /// and `.`, at most 253 characters, not `.` or `..`).
    static func checked(_ name: String) throws(KubernetesError) -> String {
        let allowed = name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E }
        guard !name.isEmpty, name.utf8.count <= 253, allowed, name != ".", name != ".." else { throw .badName(name) }
        return name
    }
}
