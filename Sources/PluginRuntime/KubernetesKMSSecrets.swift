import CSIServices
import GRPCCore
import KubernetesAccess

/// The KMS's Secrets read through the Kubernetes API (ceph-csi's metadata KMS `secretName`),
/// with the API's failures turned into the codes the RPC answers: a missing or forbidden
/// Secret waits for an operator (FAILED_PRECONDITION), an API that does not answer is
/// UNAVAILABLE (the sidecar retries), a bad name is INVALID_ARGUMENT.
struct KubernetesKMSSecrets: KMSSecretReading {
    let client: KubernetesClient

    func secretData(name: String, namespace: String) async throws -> [String: String] {
        do {
            return try await client.secret(name, namespace: namespace).data
        } catch {
            throw Self.csiError(error, reading: "Secret \(namespace)/\(name)")
        }
    }

    /// The code an RPC answers when `what`, read for `purpose`, cannot be read.
    static func csiError(_ error: KubernetesError, reading what: String, for purpose: String = "KMS passphrase") -> CSIError {
        let message = "\(purpose): cannot read \(what): \(error)"
        switch error {
        case .badName: return .invalidArgument(message)
        case .notFound, .forbidden, .unauthorized, .notConfigured: return .failedPrecondition(message)
        case .timedOut, .transport, .failed, .badResponse: return CSIError(.unavailable, message)
        }
    }
}
