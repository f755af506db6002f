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
