/// Durations of repeated runs, and their order statistics.
struct Samples: Sendable {
    private(set) var values: [Duration] = []

    mutating func append(_ value: Duration) { values.append(value) }

    /// The `q` quantile (nearest rank), in milliseconds.
    func quantile(_ q: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)].milliseconds
    }

    var median: Double { quantile(0.5) }
    var p95: Double { quantile(0.95) }
    var p99: Double { quantile(0.99) }
    var count: Int { values.count }

    /// `{"n", "median_ms", "p95_ms"}` plus p99 when asked.
    func summary(p99 withP99: Bool = false) -> [String: Double] {
        var result = ["n": Double(count), "median_ms": median, "p95_ms": p95]
        if withP99 { result["p99_ms"] = p99 }
        return result
    }
}

extension Duration {
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}

/// Times `body`.
func measure(_ body: () async throws -> Void) async rethrows -> Duration {
    let clock = ContinuousClock()
    let start = clock.now
    try await body()
    return clock.now - start
}
