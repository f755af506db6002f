import CephAccess
import Testing

@Suite("CSI volume id codec, against ids made by ceph-csi")
struct CSIVolumeIDTests {
    /// From the seed document: a volume provisioned by ceph-csi v3.0.0 (image csi-vol-1699e662-…).
    static let seedID = "0001-0024-0bba3be9-0a1c-41db-a619-26ffea20161e-0000000000000004-1699e662-e83f-11ea-8e79-246e96907f74"
    static let rookID = "0001-0009-rook-ceph-0000000000000002-40b130e1-a630-11eb-8bea-246e968ec20c"

    @Test func decodesTheSeedDocumentsID() throws {
        let id = try CSIVolumeID(decoding: Self.seedID)
        #expect(id.clusterID == "0bba3be9-0a1c-41db-a619-26ffea20161e")
        #expect(id.poolID == 4)
        #expect(id.objectUUID == "1699e662-e83f-11ea-8e79-246e96907f74")
        #expect(id.journalObject == "csi.volume.1699e662-e83f-11ea-8e79-246e96907f74")
        #expect(try id.encoded() == Self.seedID)
    }

    @Test func decodesARookID() throws {
        let id = try CSIVolumeID(decoding: Self.rookID)
        #expect(id == CSIVolumeID(clusterID: "rook-ceph", poolID: 2, objectUUID: "40b130e1-a630-11eb-8bea-246e968ec20c"))
        #expect(try id.encoded() == Self.rookID)
    }

    @Test func encodesBigEndianHexLikeGo() throws {
        let id = CSIVolumeID(clusterID: "c", poolID: 0x1_0000_00ab, objectUUID: "40b130e1-a630-11eb-8bea-246e968ec20c")
        #expect(try id.encoded() == "0001-0001-c-00000001000000ab-40b130e1-a630-11eb-8bea-246e968ec20c")
        #expect(try CSIVolumeID(decoding: id.encoded()) == id)
    }

    @Test func clusterIDsUpTo64CharactersRoundTrip() throws {
        let longest = CSIVolumeID(clusterID: String(repeating: "k", count: 64), poolID: Int64.max, objectUUID: "40b130e1-a630-11eb-8bea-246e968ec20c")
        let text = try longest.encoded()
        #expect(text.utf8.count == 128)
        #expect(text.hasPrefix("0001-0040-"))
        #expect(try CSIVolumeID(decoding: text) == longest)
        #expect(throws: CSIVolumeID.EncodingError.self) {
            try CSIVolumeID(clusterID: String(repeating: "k", count: 65), poolID: 1, objectUUID: longest.objectUUID).encoded()
        }
    }

    @Test func uppercaseHexDecodesAsGoDoes() throws {
        let id = try CSIVolumeID(decoding: "0001-0009-rook-ceph-000000000000000A-40B130E1-A630-11EB-8BEA-246E968EC20C")
        #expect(id.poolID == 10)
    }

    @Test(arguments: [
        ("", "shorter than the minimum"),
        ("pvc-static-image", "shorter than the minimum"),
        (String(repeating: "a", count: 129), "longer than the maximum"),
        ("0002-0009-rook-ceph-0000000000000002-40b130e1-a630-11eb-8bea-246e968ec20c", "unknown encoding version 2"),
        ("000x-0009-rook-ceph-0000000000000002-40b130e1-a630-11eb-8bea-246e968ec20c", "4-digit hex version"),
        ("0001_0009-rook-ceph-0000000000000002-40b130e1-a630-11eb-8bea-246e968ec20c", "4-digit hex version"),
        ("0001-000g-rook-ceph-0000000000000002-40b130e1-a630-11eb-8bea-246e968ec20c", "clusterID length"),
        ("0001-0010-rook-ceph-0000000000000002-40b130e1-a630-11eb-8bea-246e968ec20c", "needs an id of 80 characters"),
        ("0001-0008-rook-ceph-0000000000000002-40b130e1-a630-11eb-8bea-246e968ec20c", "needs an id of 72 characters"),
        ("0001-0000--0000000000000002-40b130e1-a630-11eb-8bea-246e968ec20c-xxxxxxxx", "clusterID is empty"),
        ("0001-0009-rook-ceph_0000000000000002-40b130e1-a630-11eb-8bea-246e968ec20c", "no '-' after the clusterID"),
        ("0001-0009-rook-ceph-00000000000000z2-40b130e1-a630-11eb-8bea-246e968ec20c", "16-digit hex pool id"),
        ("0001-0009-rook-ceph-8000000000000000-40b130e1-a630-11eb-8bea-246e968ec20c", "out of range"),
        ("0001-0009-rook-ceph-0000000000000002-40b130e1-a630-11eb-8bea-246e968ec20g", "is not a UUID"),
        ("0001-0009-rook-ceph-0000000000000002-40b130e1a-630-11eb-8bea-246e968ec20c", "is not a UUID"),
        ("0001-0009-rook-ceph-0000000000000002-../../../../etc/passwd/aaaaaaaaaaaaa", "is not a UUID"),
    ])
    func malformedIDsAreRefusedWithTheReason(id: String, reason: String) {
        let error = #expect(throws: CSIVolumeID.DecodingError.self) { try CSIVolumeID(decoding: id) }
        #expect(error?.description.contains(reason) == true, "\(error?.description ?? "no error")")
    }

    @Test func encodingRefusesBadFields() {
        let uuid = "40b130e1-a630-11eb-8bea-246e968ec20c"
        #expect(throws: CSIVolumeID.EncodingError.self) { try CSIVolumeID(clusterID: "", poolID: 1, objectUUID: uuid).encoded() }
        #expect(throws: CSIVolumeID.EncodingError.self) { try CSIVolumeID(clusterID: "c", poolID: -1, objectUUID: uuid).encoded() }
        #expect(throws: CSIVolumeID.EncodingError.self) { try CSIVolumeID(clusterID: "c", poolID: 1, objectUUID: "not-a-uuid").encoded() }
    }
}
