import HostOperations
import Testing

@Suite("mountinfo parsing and host parsers")
struct MountInfoParserTests {
    static let sample = """
    22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw
    36 22 98:0 /mnt1 /mnt\\0402 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
    40 22 7:0 / /var/lib/kubelet/globalmount/vol-1 rw,relatime shared:5 - xfs /dev/loop0 rw,nouuid,attr2
    41 22 7:0 / /var/lib/kubelet/pods/p/mount ro,relatime - xfs /dev/loop0 rw,nouuid
    garbage line
    """

    @Test func parsesFieldsOptionalFieldsAndEscapes() {
        let entries = MountInfoParser.parse(Self.sample)
        #expect(entries.count == 4)
        #expect(entries[1].mountPoint == "/mnt 2")
        #expect(entries[1].root == "/mnt1")
        #expect(entries[1].fsType == "ext3")
        #expect(entries[1].superOptions == ["rw", "errors=continue"])
        #expect(entries[2].device == "7:0")
        #expect(entries[2].source == "/dev/loop0")
        #expect(entries[3].isReadOnly)
    }

    struct Table: MountTableReading {
        func entries() throws -> [MountEntry] { MountInfoParser.parse(MountInfoParserTests.sample) }
    }

    @Test func mountPointLookupNormalizesPaths() throws {
        #expect(try Table().isMountPoint("/var/lib/kubelet//globalmount/vol-1/"))
        #expect(try !Table().isMountPoint("/var/lib/kubelet/globalmount"))
    }

    @Test func snapshotLookupFindsTheTopmostMount() {
        let stacked = MountTableSnapshot(parsing: Self.sample + "\n42 22 7:1 / /var/lib/kubelet/globalmount/vol-1 rw - ext4 /dev/loop1 rw")
        #expect(stacked.entry(at: "/var/lib/kubelet/globalmount/vol-1")?.source == "/dev/loop1")
        #expect(stacked.entries.count == 5)
        let sample = MountTableSnapshot(parsing: Self.sample)
        #expect(sample.entry(at: "/mnt 2")?.fsType == "ext3")
        #expect(sample.entry(at: "/var/lib/kubelet/pods/p/mount") == MountInfoParser.parse(Self.sample)[3])
        #expect(sample.entry(at: "/var/lib/kubelet") == nil)
        #expect(sample.entry(at: "line") == nil)
    }

    @Test func escapesThatAreNotOctalBytesStayAsWritten() {
        let entries = MountInfoParser.parse("50 22 0:40 / /a\\b\\777\\01\\134c rw - tmpfs t\\011x rw")
        #expect(entries.first?.mountPoint == "/a\\b\\777\\01\\c")
        #expect(entries.first?.source == "t\tx")
    }

    @Test func blkidOutput() {
        #expect(BlkidProbe.parse("DEVNAME=/dev/loop0\nTYPE=ext4\n") == "ext4")
        #expect(BlkidProbe.parse("PTTYPE=gpt\n") == "unknown data")
        #expect(BlkidProbe.parse("") == nil)
    }

    @Test func mkfsArgumentsAreCephCSIs() {
        #expect(MkfsFormatter.arguments(fsType: "ext4", device: "/dev/rbd0", custom: nil, xfsSupportsReflink: true)
            == ["-m0", "-Enodiscard,lazy_itable_init=1,lazy_journal_init=1", "/dev/rbd0"])
        #expect(MkfsFormatter.arguments(fsType: "xfs", device: "/dev/rbd0", custom: nil, xfsSupportsReflink: true)
            == ["-K", "-m", "reflink=0", "/dev/rbd0"])
        #expect(MkfsFormatter.arguments(fsType: "xfs", device: "/dev/rbd0", custom: nil, xfsSupportsReflink: false) == ["-K", "/dev/rbd0"])
        #expect(MkfsFormatter.arguments(fsType: "ext4", device: "/dev/rbd0", custom: ["-b", "4096"], xfsSupportsReflink: false) == ["-b", "4096", "/dev/rbd0"])
    }
}
