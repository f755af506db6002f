#if canImport(Glibc)
import Glibc
#endif

/// Strings laid out for the librados calls that take arrays of (pointer, length) pairs: every
/// string's exact UTF-8 bytes, NUL-terminated after its length, in one allocation that lives
/// as long as the value. The lengths are the bytes' count, never a C string's: `strdup` would
/// stop at an embedded NUL while the length went on, and librados would read past it.
final class CStringArray {
    let lengths: [Int]
    var count: Int { lengths.count }
    private let storage: UnsafeMutableBufferPointer<CChar>
    private let pointers: [UnsafePointer<CChar>?]

    init(_ strings: [String]) {
        lengths = strings.map { $0.utf8.count }
        storage = .allocate(capacity: lengths.reduce(0) { $0 + $1 + 1 })
        var offset = 0
        var pointers: [UnsafePointer<CChar>?] = []
        pointers.reserveCapacity(strings.count)
        for (string, length) in zip(strings, lengths) {
            let start = storage.baseAddress! + offset
            for (index, byte) in string.utf8.enumerated() { start[index] = CChar(bitPattern: byte) }
            start[length] = 0
            pointers.append(UnsafePointer(start))
            offset += length + 1
        }
        self.pointers = pointers
    }

    deinit {
        storage.deallocate()
    }

    /// Runs `body` with the array of pointers (valid for the duration of the call).
    func withPointers<R>(_ body: (UnsafePointer<UnsafePointer<CChar>?>?) throws -> R) rethrows -> R {
        try pointers.withUnsafeBufferPointer { try body($0.baseAddress) }
    }
}
