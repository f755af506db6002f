import CSIProtocol
import GRPCCore
import Logging

/// Heals, at start-up, the rbd-nbd volumes an earlier run of the plugin staged on this node:
/// their daemons died with that run (a container restart kills its cgroup), the kernel keeps
/// each nbd device waiting for a new daemon for the reattach timeout, and the pods' mounts
/// stay. Each volume gets a new daemon on its device (`VolumeStager.reattach`); nothing is
/// mounted, unmounted or unmapped, so a volume that cannot be healed is left as it is and
/// logged (its stats report it abnormal), never taken from under a pod.
public struct VolumeHealer: Sendable {
    /// What healing did with one volume.
    public enum Outcome: Sendable, Equatable {
        case reattached(device: String)
        case alreadyServing(device: String)
        /// Not an rbd-nbd volume, or nothing staged at the path.
        case skipped(reason: String)
        case failed(reason: String)
    }

    public let host: NodeHost
    public let logger: Logger

    public init(host: NodeHost, logger: Logger) {
        self.host = host
        self.logger = logger
    }

    /// Heals the volumes the requests describe (as a NodeStageVolume of each would, with the
    /// secrets and context of its PersistentVolume), at most `concurrency` at once, all within
    /// `limit`: what is still running then is cancelled (its attach killed) and failed.
    public func heal(_ requests: [Csi_V1_NodeStageVolumeRequest], limit: Duration, concurrency: Int = 8) async -> [String: Outcome] {
        let stager = VolumeStager(host: host, logger: logger)
        var outcomes: [String: Outcome] = [:]
        await withTaskGroup(of: (String, Outcome)?.self) { group in
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            var pending = requests[...]
            var running = 0
            var timedOut = false
            while running < concurrency, let request = pending.popFirst() {
                group.addTask { (request.volumeID, await Self.heal(request, stager: stager)) }
                running += 1
            }
            while let next = await group.next() {
                guard let (volumeID, outcome) = next else {
                    // The time limit passed first: what still runs is stopped.
                    timedOut = true
                    group.cancelAll()
                    continue
                }
                if timedOut, case .failed = outcome {
                    outcomes[volumeID] = .failed(reason: "not done within the healing time limit of \(limit) (its attach was stopped)")
                } else {
                    outcomes[volumeID] = outcome
                }
                running -= 1
                if let request = pending.popFirst() {
                    group.addTask { (request.volumeID, await Self.heal(request, stager: stager)) }
                    running += 1
                } else if running == 0 {
                    group.cancelAll()
                }
            }
            for request in pending where outcomes[request.volumeID] == nil {
                outcomes[request.volumeID] = .failed(reason: "not started within the healing time limit of \(limit)")
            }
        }
        for request in requests {
            let outcome = outcomes[request.volumeID] ?? .failed(reason: "not done within the healing time limit of \(limit)")
            outcomes[request.volumeID] = outcome
            var metadata: Logger.Metadata = ["volume": "\(request.volumeID)", "stagingPath": "\(request.stagingTargetPath)"]
            switch outcome {
            case .reattached(let device):
                metadata["device"] = "\(device)"
                logger.notice("healed: a new rbd-nbd daemon serves the staged volume", metadata: metadata)
            case .alreadyServing(let device):
                metadata["device"] = "\(device)"
                logger.info("healthy: the staged volume's rbd-nbd daemon is alive", metadata: metadata)
            case .skipped(let reason):
                metadata["reason"] = "\(reason)"
                logger.debug("nothing to heal", metadata: metadata)
            case .failed(let reason):
                metadata["error"] = "\(reason)"
                logger.error("cannot heal the staged volume: left as it is (its I/O fails until it is restaged)", metadata: metadata)
            }
        }
        return outcomes
    }

    private static func heal(_ request: Csi_V1_NodeStageVolumeRequest, stager: VolumeStager) async -> Outcome {
        do {
            let parameters = try StageParameters(request)
            switch try await stager.reattach(parameters) {
            case .reattached(let device): return .reattached(device: device)
            case .alreadyServing(let device): return .alreadyServing(device: device)
            case .notNBD(let mapper): return .skipped(reason: "staged with \(mapper.rawValue), not rbd-nbd")
            case .nothingStaged: return .skipped(reason: "nothing is staged at \(request.stagingTargetPath)")
            }
        } catch {
            let status = RPCError(mapping: error)
            return .failed(reason: "\(status.code.wireName): \(status.message)")
        }
    }
}
