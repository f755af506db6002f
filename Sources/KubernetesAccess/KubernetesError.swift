/// A failed Kubernetes API request, with what was asked and the API server's own message.
public enum KubernetesError: Error, CustomStringConvertible, Sendable, Equatable {
    /// No API server to talk to (not in a pod, no service account).
    case notConfigured(String)
    /// 401: the token was refused.
    case unauthorized(path: String, message: String)
    /// 403: RBAC does not allow the request; the message names the missing rule.
    case forbidden(path: String, message: String)
    /// 404: no such object.
    case notFound(path: String)
    /// No complete answer within the request's time limit.
    case timedOut(path: String, limit: Duration)
    /// Any other HTTP status.
    case failed(path: String, status: Int, message: String)
    /// Connection or TLS failure (a CA that does not match the server's certificate lands here).
    case transport(path: String, reason: String)
    /// An answer that is not the object asked for (bad JSON, too large).
    case badResponse(path: String, reason: String)
    /// A name that cannot be an object's name; refused before any request.
    case badName(String)

    public var description: String {
        switch self {
        case .notConfigured(let reason): return "no Kubernetes API: \(reason)"
        case .unauthorized(let path, let message): return "Kubernetes API refused the token for GET \(path) (401): \(message)"
        case .forbidden(let path, let message): return "Kubernetes API forbids GET \(path) (403, check the plugin's RBAC): \(message)"
        case .notFound(let path): return "Kubernetes API: GET \(path): not found (404)"
        case .timedOut(let path, let limit): return "Kubernetes API: GET \(path) timed out after \(limit)"
        case .failed(let path, let status, let message): return "Kubernetes API: GET \(path) failed with HTTP \(status): \(message)"
        case .transport(let path, let reason): return "Kubernetes API: GET \(path): \(reason)"
        case .badResponse(let path, let reason): return "Kubernetes API: GET \(path): unexpected answer: \(reason)"
        case .badName(let name): return "\(name) is not a Kubernetes object name"
        }
    }
}
