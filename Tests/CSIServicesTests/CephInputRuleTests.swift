import CephAccess
import Testing

/// The checks that stand before every C call (issue 27): the string rule, cephx keys, image
/// layouts.
@Suite struct CephInputRuleTests {
    @Test(arguments: ["csi-vol-", "pvc-1", "ünïcode-ok", "a.b_c-d", ""])
    func namesThatPass(name: String) {
        #expect(CephStringRule.name.problem(in: name) == nil)
    }

    @Test(arguments: [
        ("csi-vol-\0", "NUL"), ("a/b", "'/'"), ("x@", "'@'"), ("tab\t", "U+9"), ("del\u{7f}", "U+7F"), ("c1\u{85}", "U+85"), ("line\n", "U+A"),
    ])
    func namesThatAreRefused(name: String, problem: String) {
        #expect(CephStringRule.name.problem(in: name)?.contains(problem) == true, "\(name.debugDescription)")
    }

    @Test func textMayHoldSeparatorsButNoNULOrControlCharacters() {
        #expect(CephStringRule.text.problem(in: "pvc/with@separators") == nil)
        #expect(CephStringRule.text.problem(in: "leak\0ZZ") != nil)
        #expect(throws: CephAccessError.self) { try CephStringRule.text.check("a\u{1b}[31m", as: "name") }
    }

    @Test func cephxKeysAreCheckedForTheirForm() throws {
        // What `ceph auth get-key` prints: base64 of type 1, a time, length 16, the secret.
        try CephKey.check("AQAVIRdrbnbrBBAAiF84CHdSv3UlnxunelKi8g==", user: "admin")
        for bad in ["", "not base64!", "AQAA", "AQBzbm90LWEta2V5LWF0LWFsbA==", "AgAVIRdrbnbrBBAAiF84CHdSv3UlnxunelKi8g==", "AQAVIRdrbnbrBBAAiF84CHdSv3Ulnxunel\0i8g=="] {
            #expect(throws: CephAccessError.self, "\(bad)") { try CephKey.check(bad, user: "admin") }
        }
    }

    @Test func layoutsFollowLibrbdsRules() {
        #expect(ImageLayout().problem == nil)
        #expect(ImageLayout(objectSize: 1 << 20, stripeUnit: 65536, stripeCount: 4).problem == nil)
        #expect(ImageLayout(stripeUnit: 1 << 22, stripeCount: 1).problem == nil)
        #expect(ImageLayout(objectSize: 3).problem?.contains("power of 2") == true)
        #expect(ImageLayout(objectSize: 1 << 11).problem != nil)
        #expect(ImageLayout(objectSize: 1 << 26).problem != nil)
        #expect(ImageLayout(stripeUnit: 65536).problem == "stripe count is not specified")
        #expect(ImageLayout(stripeCount: 2).problem == "stripe unit is not specified")
        #expect(ImageLayout(stripeUnit: 256, stripeCount: 2).problem != nil)
        #expect(ImageLayout(objectSize: 1 << 20, stripeUnit: 3_000_000, stripeCount: 2).problem != nil)
        #expect(ImageLayout(stripeUnit: 65536, stripeCount: 0).problem != nil)
    }
}
