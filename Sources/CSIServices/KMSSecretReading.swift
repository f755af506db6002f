/// Reads a Kubernetes Secret's data for a KMS (ceph-csi's metadata KMS with `secretName`).
///
/// The plugin's composition root implements it over the Kubernetes API; CSIServices sees only
/// this seam. Failures are `CSIError`s with the code the RPC should answer (the API's answer
/// is translated where the API is known).
public protocol KMSSecretReading: Sendable {
    /// The decoded `data` of Secret `name` in `namespace`.
    func secretData(name: String, namespace: String) async throws -> [String: String]
}
