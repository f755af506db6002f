import HostOperations

/// Recognises the block devices this plugin maps, and so the mounts it made: a path is only
/// unmounted, reported on or published from when its mount is on one of these.
///
/// The devices are krbd's `/dev/rbdN`, rbd-nbd's `/dev/nbdN`, the LUKS layer
/// `/dev/mapper/luks-rbd-<volID>` (`/dev/dm-N` once resolved), and rbd-fuse's loop devices,
/// whose backing file lies under the plugin's FUSE directory.
public struct PluginDevices: Sendable {
    /// The directory holding the rbd-fuse mounts (`<statedir>/fuse`).
    public var fuseDirectory: String

    public init(fuseDirectory: String) {
        self.fuseDirectory = fuseDirectory
    }

    /// The device a mount shows: its source, or for a bind mount of a device node out of
    /// devtmpfs (a block volume), `/dev` followed by the bind's root.
    public static func device(of entry: MountEntry) -> String {
        entry.fsType == "devtmpfs" ? "/dev" + (entry.root == "/" ? "" : entry.root) : entry.source
    }

    public func isPluginMount(_ entry: MountEntry) async -> Bool {
        await isPluginDevice(Self.device(of: entry))
    }

    public func isPluginDevice(_ device: String) async -> Bool {
        guard device.hasPrefix("/dev/") else { return false }
        let name = device.dropFirst("/dev/".count)
        if name.hasPrefix("mapper/luks-rbd-") { return true }
        if let number = Self.number(after: "rbd", in: name) ?? Self.number(after: "nbd", in: name) { return !number.isEmpty }
        if let number = Self.number(after: "dm-", in: name), !number.isEmpty {
            let mapperName = (try? FileText.read("/sys/block/\(name)/dm/name"))?.trimmingWhitespace() ?? ""
            return mapperName.hasPrefix("luks-rbd-")
        }
        if let number = Self.number(after: "loop", in: name), !number.isEmpty {
            guard let backing = LoopDevices.backingFile(ofLoop: String(name)) else { return false }
            if backing.hasPrefix(fuseDirectory + "/") { return true }
            // Lazily unmounted: sysfs shows the file inside the detached mount only. The
            // setup-time name says where it was; reading it asks the FUSE daemon, so bounded.
            guard LoopDevices.isDetachedForm(backing) else { return false }
            let prefix = String(decoding: (fuseDirectory + "/").utf8.prefix(LoopDevices.setupNameLength), as: UTF8.self)
            return await LoopDevices.boundedSetupName(of: device)?.hasPrefix(prefix) == true
        }
        return false
    }

    /// The digits after `prefix` when `name` is `prefix` followed only by digits; nil otherwise.
    private static func number(after prefix: String, in name: Substring) -> Substring? {
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        return rest.allSatisfy(\.isASCIIDigit) ? rest : nil
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
