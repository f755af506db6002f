import Glibc

/// How long NodeStageVolume waits for other clients to let go of an image before mapping it
/// (a pod moving from another node): ceph-csi's backoff, 1 s growing by 1.4 for 10 checks
/// (about 70 s in all).
public struct InUseWait: Sendable {
    public var initialDelay: Duration
    public var factor: Double
    public var checks: Int

    public init(initialDelay: Duration = .seconds(1), factor: Double = 1.4, checks: Int = 10) {
        self.initialDelay = initialDelay
        self.factor = factor
        self.checks = checks
    }

    /// The pauses between checks, in whole milliseconds.
    public var delays: [Duration] {
        let first = Double(initialDelay.components.seconds) * 1000 + Double(initialDelay.components.attoseconds) / 1e15
        return (0..<max(0, checks - 1)).map { step in
            .milliseconds(Int((first * pow(factor, Double(step))).rounded()))
        }
    }
}
