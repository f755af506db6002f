import HostOperations

/// Counts the volumes staged on this node, by mounter, from what the kernel shows rather than
/// from what this process remembers, so the count is right after a restart too.
///
/// A staged volume is one mapped device of this plugin's (see `PluginDevices`) that is mounted
/// somewhere: its staging mount and every publish bind of it count once. A LUKS layer counts as
/// the mapper under it.
public struct StagedVolumeCensus: Sendable {
    public var mountTable: any MountTableReading
    public var devices: PluginDevices

    public init(mountTable: any MountTableReading, devices: PluginDevices) {
        self.mountTable = mountTable
        self.devices = devices
    }

    /// The number of staged volumes for each mounter (`krbd`, `rbd-nbd`, `rbd-fuse`); every
    /// mounter appears, with 0 when none is staged.
    public func count() async throws -> [String: Int] {
        var seen: Set<String> = []
        for entry in try mountTable.entries() {
            let device = PluginDevices.device(of: entry)
            guard !seen.contains(device), await devices.isPluginDevice(device) else { continue }
            seen.insert(device)
        }
        var counts = Dictionary(uniqueKeysWithValues: Self.mounterNames.map { ($0, 0) })
        for device in seen {
            counts[Self.mounter(of: device), default: 0] += 1
        }
        return counts
    }

    /// The mounters counted, each always reported.
    public static let mounterNames = ["krbd", "rbd-nbd", "rbd-fuse"]

    /// The mounter behind `device`, a device of this plugin's; a LUKS layer's is the one of the
    /// device under it.
    static func mounter(of device: String) -> String {
        let name = device.dropFirst("/dev/".count)
        var under: String?
        if name.hasPrefix("mapper/") {
            under = LUKSHolders.devices(under: String(name.dropFirst("mapper/".count))).first
        } else if name.hasPrefix("dm-") {
            under = LUKSHolders.devices(underDM: String(name)).first
        }
        let base = under.map { $0.dropFirst("/dev/".count) } ?? name
        if base.hasPrefix("rbd") { return "krbd" }
        if base.hasPrefix("nbd") { return "rbd-nbd" }
        if base.hasPrefix("loop") { return "rbd-fuse" }
        return "unknown"
    }
}
