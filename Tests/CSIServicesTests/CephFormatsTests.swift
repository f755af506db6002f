import CSIServices
import CephAccess
import Foundation
import Testing

@Suite("ceph-csi formats: map options, device lists, stash")
struct CephFormatsTests {
    @Test func mapOptionsSplitByMounterAsCephCSIParsesThem() throws {
        let options = try MapOptions(parsing: "krbd:lock_on_read,queue_depth=1024;nbd:try-netlink")
        #expect(options.krbd == ["lock_on_read", "queue_depth=1024"])
        #expect(options.nbd == ["try-netlink"])
        // Prefixes in any case; the last part for a mounter wins; no prefix is krbd.
        let mixed = try MapOptions(parsing: "KRBD:a;Nbd:b;krbd:c;noshare")
        #expect(mixed.krbd == ["noshare"])
        #expect(mixed.nbd == ["b"])
        // Values may hold ':' once the mounter is named.
        #expect(try MapOptions(parsing: "krbd:read_from_replica=localize,crush_location=zone:zone1").krbd == ["read_from_replica=localize", "crush_location=zone:zone1"])
        #expect(throws: MapOptions.ParseError.self) { try MapOptions(parsing: "zfs:x") }
        #expect(throws: MapOptions.ParseError.self) { try MapOptions(parsing: "rbd-nbd:x") }
    }

    @Test func stashUnmapOptionsAreTheMountersOwn() throws {
        // ceph-csi v3.12 writes the selected options, plain.
        let cephCSI = #"{"Version":3,"pool":"rbd","radosNamespace":"","image":"csi-vol-1","unmapOptions":"force","accessType":true,"encrypted":false,"device":"/dev/nbd0","logDir":"/var/log/ceph","logFileStrategy":"remove"}"#
        let stash = try JSONDecoder().decode(ImageMetadataStash.self, from: Data(cephCSI.utf8))
        #expect(stash.mapper == .nbd)
        #expect(stash.mapperUnmapOptions == ["force"])
        // Stashes of earlier rbdcsi versions held the whole context text.
        let old = ImageMetadataStash(spec: ImageSpec(pool: "rbd", image: "i"), mapper: .nbd, unmapOptions: "krbd:force;nbd:timeout=5")
        #expect(old.mapperUnmapOptions == ["timeout=5"])
    }

    @Test func nbdDefaultsYieldToGivenOptions() {
        #expect(NBDMapper.mapFlags(options: [], volumeID: "v") == ["--try-netlink", "--reattach-timeout=300", "--io-timeout=0", "--cookie=v"])
        #expect(NBDMapper.mapFlags(options: ["io-timeout=30"], volumeID: "v") == ["--try-netlink", "--reattach-timeout=300", "--cookie=v", "--io-timeout=30"])
    }

    @Test func deviceListFindsTheHeadOfTheImage() throws {
        let json = #"[{"id":"0","pool":"rbd","namespace":"","name":"img","snap":"snap1","device":"/dev/rbd0"},{"id":"1","pool":"rbd","namespace":"","name":"img","snap":"-","device":"/dev/rbd1"},{"id":"2","pool":"rbd","namespace":"ns","name":"img","snap":"-","device":"/dev/rbd2"}]"#
        #expect(try DeviceListParser.device(of: ImageSpec(pool: "rbd", image: "img"), in: json) == "/dev/rbd1")
        #expect(try DeviceListParser.device(of: ImageSpec(pool: "rbd", radosNamespace: "ns", image: "img"), in: json) == "/dev/rbd2")
        #expect(try DeviceListParser.device(of: ImageSpec(pool: "rbd", image: "other"), in: json) == nil)
        #expect(try DeviceListParser.device(of: ImageSpec(pool: "rbd", image: "img"), in: "") == nil)
        // rbd-nbd list-mapped names the image "image", not "name", and leaves the head's snap empty.
        let nbd = #"[{"id":4242,"pool":"rbd","namespace":"","image":"img","snap":"","device":"/dev/nbd0"},{"id":4243,"pool":"rbd","namespace":"","image":"img","snap":"s1","device":"/dev/nbd1"}]"#
        #expect(try DeviceListParser.device(of: ImageSpec(pool: "rbd", image: "img"), in: nbd) == "/dev/nbd0")
    }

    @Test func version2StashFromCephCSIIsRead() throws {
        let json = #"{"Version":2,"pool":"kubernetes","image":"csi-vol-1699e662-e83f-11ea-8e79-246e96907f74","accessType":false,"encrypted":false}"#
        let stash = try JSONDecoder().decode(ImageMetadataStash.self, from: Data(json.utf8))
        #expect(stash.spec == ImageSpec(pool: "kubernetes", image: "csi-vol-1699e662-e83f-11ea-8e79-246e96907f74"))
        #expect(stash.mapper == .krbd)
        #expect(stash.version == 2)
    }

    @Test func version3StashHasCephCSIsKeys() throws {
        let stash = ImageMetadataStash(spec: ImageSpec(pool: "p", radosNamespace: "ns", image: "i"), mapper: .nbd, unmapOptions: "force")
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(stash)) as? [String: Any]
        #expect(object?["Version"] as? Int == 3)
        #expect(object?["accessType"] as? Bool == true)
        #expect(object?["radosNamespace"] as? String == "ns")
        #expect(object?["unmapOptions"] as? String == "force")
        #expect(Set(object.map { Array($0.keys) } ?? []).isSuperset(of: ["pool", "image", "encrypted", "device", "logDir", "logFileStrategy"]))
    }
}
