import CSIServices
import KubernetesAccess

/// ceph-csi's KMS ConfigMap (`KMS_CONFIGMAP_NAME`, default `csi-kms-connection-details`, in
/// the plugin's namespace) read through the Kubernetes API on every use, where the KMS config
/// file is not mounted. A missing ConfigMap is no config; the API's other failures get the
/// codes `KubernetesKMSSecrets` gives them (UNAVAILABLE when the API does not answer, so the
/// sidecar retries).
struct KubernetesKMSConfigMap: KMSConfigMapReading {
    let client: KubernetesClient
    let name: String
    let namespace: String

    var source: String { "ConfigMap \(namespace)/\(name)" }

    func sections() async throws -> [String: String]? {
        do {
            return try await client.configMap(name, namespace: namespace).data ?? [:]
        } catch .notFound {
            return nil
        } catch {
            throw KubernetesKMSSecrets.csiError(error, reading: source, for: "KMS config")
        }
    }
}
