/// Reads ceph-csi's KMS ConfigMap (`kmsID` → that KMS's JSON), which stands in for the KMS
/// config file where the file is not mounted.
///
/// Read on every use, as ceph-csi does, so that an operator's edit applies to the next
/// encrypted volume without a restart. The composition root implements it over the Kubernetes
/// API; CSIServices sees only this seam.
public protocol KMSConfigMapReading: Sendable {
    /// What is read, for messages (`ConfigMap NAMESPACE/NAME`).
    var source: String { get }
    /// The ConfigMap's `data` as it is now; nil when it does not exist. Other failures are
    /// `CSIError`s with the code the RPC should answer.
    func sections() async throws -> [String: String]?
}
