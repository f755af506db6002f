#if canImport(Glibc)
import Glibc
#endif

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

    /// The block devices under the device-mapper device `/dev/mapper/<name>` (its `slaves`),
    /// e.g. `/dev/loop3` under an rbd-fuse volume's LUKS mapping.
    public static func devices(under name: String) -> [String] {
        // /dev/mapper/<name> links to ../dm-N.
        var buffer = [CChar](repeating: 0, count: 256)
        let length = readlink("/dev/mapper/\(name)", &buffer, buffer.count - 1)
        guard length > 0 else { return [] }
        let target = String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let dm = target.split(separator: "/").last, dm.hasPrefix("dm-") else { return [] }
        return devices(underDM: String(dm))
    }

    /// The block devices under the device-mapper device `dm` (`dm-3`, its `slaves`).
    public static func devices(underDM dm: String) -> [String] {
        ((try? DirectoryEntries.names(in: "/sys/block/\(dm)/slaves")) ?? []).map { "/dev/\($0)" }
    }
}
