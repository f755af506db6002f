/// Validates `--drivername` the way ceph-csi does: a DNS-1123 subdomain of at most 63 characters.
public enum DriverName {
    public static func validate(_ name: String) throws(PluginRuntimeError) {
        guard !name.isEmpty else { throw .badFlag("--drivername must not be empty") }
        guard name.count <= 63 else {
            throw .badFlag("--drivername \(name) is \(name.count) characters long; at most 63 are allowed")
        }
        let allowed = name.allSatisfy { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "-" || $0 == "." }
        let alphanumeric: (Character?) -> Bool = { c in c.map { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") } ?? false }
        let labelsOK = name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy {
            alphanumeric($0.first) && alphanumeric($0.last)
        }
        guard allowed && labelsOK else {
            throw .badFlag("--drivername \(name) is not a valid DNS-1123 name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit")
        }
    }
}
