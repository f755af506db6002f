/// The one rule for every string the driver hands to librados, librbd or a command line.
///
/// C takes a string up to its first NUL: a name with a NUL in it would reach Ceph cut short,
/// and name another object than the one asked for (a StorageClass prefix ending in NUL once
/// sent another volume's image to the trash). Control characters end up in logs, omap keys
/// and command lines. `/` and `@` are Ceph's separators (`pool/namespace/image@snapshot`).
/// Requests are checked against this rule where they arrive (INVALID_ARGUMENT); the C calls
/// check again, so a string that got past the edge still never reaches C cut short.
public enum CephStringRule: Sendable {
    /// Text passed with its length (omap keys and values, user names, keys): no NUL, no
    /// control characters.
    case text
    /// A name Ceph parses (pool, RADOS namespace, image, snapshot, object, name prefix): as
    /// `text`, and no `/` or `@`.
    case name

    /// What is wrong with `value` under this rule, or nil when it passes.
    public func problem(in value: String) -> String? {
        for scalar in value.unicodeScalars {
            if scalar.value == 0 { return "contains a NUL character" }
            if scalar.value < 0x20 || scalar.value == 0x7f || (0x80..<0xa0).contains(scalar.value) {
                return "contains the control character U+\(String(scalar.value, radix: 16, uppercase: true))"
            }
            if self == .name, scalar == "/" || scalar == "@" {
                return "contains '\(scalar)', which separates the parts of a Ceph name"
            }
        }
        return nil
    }

    /// Throws `invalidString` when `value` breaks the rule; `what` names it in the message.
    public func check(_ value: String, as what: @autoclosure () -> String) throws(CephAccessError) {
        if let problem = problem(in: value) {
            throw .invalidString(what: what(), problem: problem)
        }
    }
}
