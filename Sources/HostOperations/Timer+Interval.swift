import CoreMetrics

extension CoreMetrics.Timer {
    /// Records the time since `start` on the continuous clock (swift-metrics' `Timer` takes
    /// integer nanoseconds, not a `Duration`).
    public func recordInterval(since start: ContinuousClock.Instant) {
        record(ContinuousClock.now - start)
    }

    /// Records `duration` (whole nanoseconds).
    public func record(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
