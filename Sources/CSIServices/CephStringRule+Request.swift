import CephAccess

extension CephStringRule {
    /// Checks a request field that reaches Ceph: INVALID_ARGUMENT, naming the field, when
    /// `value` breaks the rule.
    func require(_ value: String, as field: String) throws(CSIError) {
        if let problem = problem(in: value) {
            throw CSIError.invalidArgument("\(field) \(problem)")
        }
    }
}
