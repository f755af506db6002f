@testable import CephAccess
import Testing

@testable import CSIServices

/// The names ceph-csi's two journals use, and the limits' defaults and ranges.
@Suite("Snapshot journal names and clone limits")
struct SnapshotLayoutTests {
    @Test func volumeAndSnapshotJournalsUseCephCSIsNames() {
        let volumes = VolumeJournal(instanceID: "default")
        #expect(volumes.directoryObject == "csi.volumes.default")
        #expect(volumes.directoryKey("pvc-1") == "csi.volume.pvc-1")
        #expect(volumes.entryObject("u") == "csi.volume.u")
        #expect(volumes.requestNameKey == "csi.volname")
        let snapshots = VolumeJournal(instanceID: "cluster-2").snapshots
        #expect(snapshots.directoryObject == "csi.snaps.cluster-2")
        #expect(snapshots.directoryKey("snapshot-1") == "csi.snap.snapshot-1")
        #expect(snapshots.entryObject("u") == "csi.snap.u")
        #expect(snapshots.requestNameKey == "csi.snapname")
        #expect(snapshots.entryKeys.contains("csi.source"))
    }

    @Test func reservationsDefaultTheirImageNamesPerJournal() {
        #expect(VolumeJournal.Reservation(uuid: "u", values: [:]).imageName == "csi-vol-u")
        #expect(VolumeJournal.Reservation(uuid: "u", values: [:], kind: .snapshots).imageName == "csi-snap-u")
        let named = VolumeJournal.Reservation(uuid: "u", values: ["csi.snapname": "s", "csi.imagename": "x-u"], kind: .snapshots)
        #expect(named.imageName == "x-u")
        #expect(named.requestName == "s")
        #expect(VolumeJournal.Reservation(uuid: "u", values: ["csi.volname": ""]).requestName == nil)
    }

    @Test func cloneLimitsHaveCephCSIsDefaultsAndRanges() throws {
        let defaults = CloneLimits.defaults
        #expect([defaults.hardDepth, defaults.softDepth, defaults.maxSnapshots, defaults.minSnapshots] == [8, 4, 450, 250])
        #expect(defaults.lowered(by: 2) == (6, 2))
        #expect(try CloneLimits(hardDepth: 2, softDepth: 1).lowered(by: 2) == (2, 1))
        _ = try CloneLimits(hardDepth: 14, softDepth: 14, maxSnapshots: 500, minSnapshots: 1)
        for (hard, soft, max, min) in [(0, 1, 450, 250), (15, 4, 450, 250), (4, 5, 450, 250), (8, 4, 0, 0), (8, 4, 501, 250), (8, 4, 100, 101)] {
            #expect(throws: CloneLimitsError.self) { try CloneLimits(hardDepth: hard, softDepth: soft, maxSnapshots: max, minSnapshots: min) }
        }
    }

    @Test func flattenTaskSpecsAreJSONStrings() {
        #expect(ImageFlattening.jsonString("rbd/ns/csi-vol-1") == #""rbd/ns/csi-vol-1""#)
        #expect(ImageFlattening.jsonString("a\"b\\c\n") == #""a\"b\\c\u000a""#)
    }
}
