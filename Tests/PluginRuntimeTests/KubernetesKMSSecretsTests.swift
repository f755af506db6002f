import CSIServices
import GRPCCore
import KubernetesAccess
import Testing

@testable import PluginRuntime

/// The codes a KMS passphrase Secret read answers with, per Kubernetes API failure.
@Suite("KMS Secret reads: API failures as gRPC codes")
struct KubernetesKMSSecretsTests {
    @Test(arguments: [
        (KubernetesError.notFound(path: "/api/v1/namespaces/a/secrets/s"), RPCError.Code.failedPrecondition),
        (.forbidden(path: "/p", message: "RBAC"), .failedPrecondition),
        (.unauthorized(path: "/p", message: "token"), .failedPrecondition),
        (.notConfigured("no pod"), .failedPrecondition),
        (.timedOut(path: "/p", limit: .seconds(10)), .unavailable),
        (.transport(path: "/p", reason: "refused"), .unavailable),
        (.failed(path: "/p", status: 500, message: "boom"), .unavailable),
        (.badResponse(path: "/p", reason: "not JSON"), .unavailable),
        (.badName("Bad_Name"), .invalidArgument),
    ])
    func apiFailuresHaveTheirCodes(error: KubernetesError, code: RPCError.Code) {
        let mapped = KubernetesKMSSecrets.csiError(error, reading: "Secret a/s")
        #expect(mapped.code == code)
        #expect(mapped.message.contains("Secret a/s"))
    }
}
