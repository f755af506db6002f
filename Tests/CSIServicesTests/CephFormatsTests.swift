import CSIServices
import CephAccess
import Foundation
import Testing

@Suite("ceph-csi formats: map options, device lists, stash")
struct CephFormatsTests {
    @Test func mapOptionsSplitByMounter() throws {
        let options = try MapOptions(parsing: "krbd:lock_on_read,queue_depth=1024;nbd:try-netlink;noshare")
        #expect(options.krbd == ["lock_on_read", "queue_depth=1024", "noshare"])
        #expect(options.nbd == ["try-netlink"])
        #expect(throws: MapOptions.ParseError.self) { try MapOptions(parsing: "zfs:x") }
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
        let stash = ImageMetadataStash(spec: ImageSpec(pool: "p", radosNamespace: "ns", image: "i"), mapper: .nbd, unmapOptions: "nbd:force")
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(stash)) as? [String: Any]
        #expect(object?["Version"] as? Int == 3)
        #expect(object?["accessType"] as? Bool == true)
        #expect(object?["radosNamespace"] as? String == "ns")
        #expect(object?["unmapOptions"] as? String == "nbd:force")
        #expect(Set(object.map { Array($0.keys) } ?? []).isSuperset(of: ["pool", "image", "encrypted", "device", "logDir", "logFileStrategy"]))
    }
}
