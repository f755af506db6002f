/// The device-mapper device stacked on a block device (its LUKS layer), from sysfs.
public enum LUKSHolders {
    /// `/dev/dm-N` when a device-mapper device holds `device` (`/dev/rbd0`), else nil.
    public static func dmDevice(over device: String) -> String? {
        guard device.hasPrefix("/dev/") else { return nil }
        let name = device.dropFirst("/dev/".count)
        guard !name.contains("/") else { return nil }
        let holders = (try? DirectoryEntries.names(in: "/sys/block/\(name)/holders")) ?? []
        return holders.first { $0.hasPrefix("dm-") }.map { "/dev/\($0)" }
    }
}
