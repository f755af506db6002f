import KubernetesAccess
import Logging
import ServiceLifecycle

/// The start-up healer as a lifecycle `Service`: once the services are assembled it heals this
/// node's rbd-nbd volumes (`StartupHealing`, within its time limit), then opens `healed`, on
/// which the CSI server waits: kubelet gets the socket only once the volumes it staged
/// before the restart have their daemons again. Without a node service or the Kubernetes API
/// there is nothing to heal and the gate opens at once. A shutdown during healing stops it.
struct HealingService: Service, CustomStringConvertible {
    let healing: StartupHealing
    let kubernetes: KubernetesClient?
    let assembled: StartupGate<ServiceAssembly.Assembled>
    let healed: StartupGate<ServiceAssembly.Assembled>
    let logger: Logger

    var description: String { "HealingService" }

    func run() async throws {
        let ready: ServiceAssembly.Assembled
        do {
            let assembled = assembled
            ready = try await cancelWhenGracefulShutdown { try await assembled.value() }
        } catch {
            healed.abandon()
            return
        }
        if let kubernetes, let node = ready.composition.node {
            let healing = healing
            let logger = logger
            await cancelWhenGracefulShutdown { _ = await healing.run(node: node, client: kubernetes, logger: logger) }
        }
        healed.open(ready)
    }
}
