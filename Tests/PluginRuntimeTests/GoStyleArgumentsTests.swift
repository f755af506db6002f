import PluginRuntime
import Testing

@Suite("ceph-csi style command lines")
struct GoStyleArgumentsTests {
    @Test func booleanFlagsTakeGoForms() {
        let parsed = GoStyleArguments(["--nodeserver=true", "--controllerserver=false", "-type=rbd", "--nodeid", "n1"])
        #expect(parsed.arguments == ["--nodeserver", "--type=rbd", "--nodeid", "n1"])
        #expect(parsed.ignored.isEmpty)
    }

    @Test func ignoredCephCSIFlagsAreDroppedWithTheirValues() {
        let parsed = GoStyleArguments(["--pidlimit=-1", "--histogramoption", "0.5,2,6", "--logtostderr", "--v=5", "--nodeid=n", "--metricsport", "8080"])
        #expect(parsed.arguments == ["--v=5", "--nodeid=n", "--metricsport", "8080"])
        #expect(parsed.ignored == ["pidlimit", "histogramoption", "logtostderr"])
    }

    @Test func subcommandsAndShortFlagsPassThrough() {
        let parsed = GoStyleArguments(["client", "-h", "identity", "info"])
        #expect(parsed.arguments == ["client", "-h", "identity", "info"])
    }
}

@Suite struct ByteCountFlagTests {
    @Test func sizesParse() {
        #expect(ByteCountFlag.parse("1Pi") == 1 << 50)
        #expect(ByteCountFlag.parse("500Gi") == 500 << 30)
        #expect(ByteCountFlag.parse("4096") == 4096)
        #expect(ByteCountFlag.parse("7Ei") == 7 << 60)
    }

    @Test(arguments: ["", "0", "-1", "1P", "1.5Gi", "8Ei", "99999999999999999999", "Gi", "1 Gi"])
    func badSizesAreRefused(text: String) {
        #expect(ByteCountFlag.parse(text) == nil)
    }
}
