import CSystemShims

#if canImport(Glibc)
import Glibc
#endif

/// Starts plain detached pthreads for the host layer's long-lived loops (the blocking executor's
/// workers, the deadline timer). Plain threads, not dispatch or cooperative-pool ones, because
/// these loops block by design and must never take a thread another part of the process needs.
enum NamedThread {
    /// Starts a detached thread named `name` (as `ps -L` and `perf` show it) running `body`,
    /// which never returns.
    static func start(name: String, _ body: @escaping @Sendable () -> Never) {
        final class Context: @unchecked Sendable {
            let name: String
            let body: @Sendable () -> Never
            init(name: String, body: @escaping @Sendable () -> Never) {
                self.name = name
                self.body = body
            }
        }
        var thread = pthread_t()
        let context = Unmanaged.passRetained(Context(name: name, body: body)).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let context = Unmanaged<Context>.fromOpaque(raw!).takeRetainedValue()
            rbdcsi_name_thread(context.name)
            context.body()
        }, context)
        precondition(rc == 0, "cannot start thread \(name): error \(rc)")
        pthread_detach(thread)
    }
}
