import HostOperations

/// Where the Kubernetes API is and how to authenticate to it.
///
/// In a pod (`inCluster`): `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`, trusting
/// only the service account's CA, with its token as bearer. The token file is read again for
/// every request: projected service-account tokens are rotated under a running pod.
public struct KubernetesConfig: Sendable, Hashable {
    /// The service account's directory in every pod.
    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// `https://host:port`, no trailing slash.
    public var server: String
    /// PEM of the CA certificates the server's certificate must chain to.
    public var caFile: String
    /// The bearer token's file.
    public var tokenFile: String

    public init(server: String, caFile: String, tokenFile: String) {
        self.server = server
        self.caFile = caFile
        self.tokenFile = tokenFile
    }

    /// The in-cluster configuration, or why there is none (not in a pod, no service account).
    public static func inCluster(
        environment: [String: String], serviceAccountDirectory: String = serviceAccountDirectory
    ) throws(KubernetesError) -> KubernetesConfig {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
              let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw .notConfigured("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not running in a pod)")
        }
        guard port.allSatisfy(\.isNumber) else { throw .notConfigured("KUBERNETES_SERVICE_PORT \(port) is not a port") }
        // An IPv6 service address needs brackets in a URL.
        let authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let config = KubernetesConfig(
            server: "https://\(authority)", caFile: serviceAccountDirectory + "/ca.crt", tokenFile: serviceAccountDirectory + "/token"
        )
        for file in [config.caFile, config.tokenFile] where !HostPaths.exists(file) {
            throw .notConfigured("\(file) does not exist (no service account token mounted)")
        }
        return config
    }
}
