import NIOCore

/// Runs tasks on a NIO event loop: a call that prefers it starts, resumes and answers on the
/// connection's own thread, with no hop to the cooperative pool and back.
///
/// Only for methods whose own work is short and never blocks (their blocking calls go to the
/// `BlockingExecutor`): the event loop also reads and writes every stream of its connections.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
