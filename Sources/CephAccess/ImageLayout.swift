/// How a new image lays its data out in RADOS objects: the object size (librbd's `order`,
/// its log2) and fancy striping. nil fields leave librbd's defaults (4 MiB objects, no
/// striping).
public struct ImageLayout: Sendable, Hashable {
    public var objectSize: UInt64?
    public var stripeUnit: UInt64?
    public var stripeCount: UInt64?

    public init(objectSize: UInt64? = nil, stripeUnit: UInt64? = nil, stripeCount: UInt64? = nil) {
        self.objectSize = objectSize
        self.stripeUnit = stripeUnit
        self.stripeCount = stripeCount
    }

    /// librbd's bounds on the object size: orders 12 to 25.
    public static let objectSizes: ClosedRange<UInt64> = (1 << 12)...(1 << 25)
    /// librbd's default object size (order 22), what a stripe unit must divide when
    /// `objectSize` is not given.
    public static let defaultObjectSize: UInt64 = 1 << 22

    /// What librbd would refuse in this layout (its own create-time rules), or nil.
    public var problem: String? {
        if let objectSize {
            guard objectSize.nonzeroBitCount == 1 else { return "objectSize \(objectSize) is not power of 2" }
            guard Self.objectSizes.contains(objectSize) else {
                return "objectSize \(objectSize) is outside librbd's \(Self.objectSizes.lowerBound) to \(Self.objectSizes.upperBound) bytes"
            }
        }
        switch (stripeUnit, stripeCount) {
        case (nil, nil):
            return nil
        case (nil, _?):
            return "stripe unit is not specified"
        case (_?, nil):
            return "stripe count is not specified"
        case let (unit?, count?):
            let objectSize = self.objectSize ?? Self.defaultObjectSize
            if count == 0 { return "stripeCount must be at least 1" }
            if unit < 512 { return "stripeUnit \(unit) must be at least 512 bytes" }
            if unit > objectSize || objectSize % unit != 0 {
                return "stripeUnit \(unit) is not a factor of the object size \(objectSize)"
            }
            return nil
        }
    }

    /// librbd's `order` for `objectSize`.
    var order: UInt64? { objectSize.map { UInt64($0.trailingZeroBitCount) } }
}
