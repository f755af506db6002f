import Foundation

/// Loop devices, read from sysfs rather than by `losetup -j`, which stats the backing file and
/// would hang in the kernel if that file sits on a FUSE daemon that stopped answering.
public enum LoopDevices {
    /// The loop devices whose backing file is `file`.
    public static func backing(_ file: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/block")) ?? []
        return names.filter { $0.hasPrefix("loop") }.sorted().compactMap { name in
            guard let backing = try? FileText.read("/sys/block/\(name)/loop/backing_file") else { return nil }
            return backing.trimmingWhitespace() == file ? "/dev/\(name)" : nil
        }
    }
}
