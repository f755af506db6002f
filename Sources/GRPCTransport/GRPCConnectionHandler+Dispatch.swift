import GRPCCore
import NIOCore
import NIOHTTP2

extension GRPCConnectionHandler {
    /// Runs the call once its request has ended: the request is decoded here, on the event
    /// loop, and the method's body runs as a task.
    func dispatch(_ id: HTTP2StreamID, context: ChannelHandlerContext) {
        guard let call = calls[id] else { return }
        guard let method = call.method else {
            return reject(id, RPCError(code: .unimplemented, message: "method \(call.path) is not implemented by this server"), clientEnded: true, context: context)
        }
        guard var body = call.body, let prefix = GRPCWireFormat.prefix(of: body),
              body.readableBytes == GRPCWireFormat.prefixLength + prefix.length else {
            return reject(id, RPCError(code: .internalError, message: "the request ended without a complete message"), clientEnded: true, context: context)
        }
        body.moveReaderIndex(forwardBy: GRPCWireFormat.prefixLength)
        let request = body.readBytes(length: prefix.length) ?? []
        release(call)
        calls[id]!.reserved = 0
        calls[id]!.body = nil
        calls[id]!.bodyTimer?.cancel()
        calls[id]!.bodyTimer = nil
        calls[id]!.started = .now
        lastStart = loopNow()
        let prepared: GRPCMethodTable.PreparedCall
        do {
            prepared = try method.prepare(request)
        } catch {
            return respond(id, .failure(hooks.mapError(error)), context: context)
        }
        calls[id]!.subject = prepared.subject
        let (descriptor, localPeer) = (method.descriptor, self.localPeer)
        let loop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: loop)
        let boundContext = NIOLoopBound(context, eventLoop: loop)
        let mapError = hooks.mapError
        /// Hands the outcome to the event loop (at once when the body ran on it).
        @Sendable func finish(_ result: Result<[UInt8]?, RPCError>) {
            if loop.inEventLoop {
                handler.value.respond(id, result, context: boundContext.value)
            } else {
                loop.execute { handler.value.respond(id, result, context: boundContext.value) }
            }
        }
        /// Runs `body` with the call's `ServerContext`, whose cancellation handle is the one
        /// `withRPCCancellationHandler` finds (a task-local), and is triggered when the call
        /// ends early (see `abandon` and the deadline below).
        @Sendable func withContext(_ body: (ServerContext) async -> Void) async {
            await withServerContextRPCCancellationHandle { cancellation in
                if loop.inEventLoop {
                    handler.value.calls[id]?.cancellation = cancellation
                } else {
                    loop.execute { handler.value.calls[id]?.cancellation = cancellation }
                }
                // Ended before the handle was known to the connection.
                if Task.isCancelled { cancellation.cancel() }
                await body(ServerContext(descriptor: descriptor, remotePeer: "unix:", localPeer: localPeer, cancellation: cancellation))
            }
        }
        let executor = method.runsOnEventLoop ? self.executor : nil
        switch prepared.body {
        case .unary(let run):
            calls[id]!.task = Task(executorPreference: executor) {
                await withContext { serverContext in
                    do {
                        finish(.success(try await run(serverContext)))
                    } catch {
                        finish(.failure(mapError(error)))
                    }
                }
            }
        case .serverStreaming(let run):
            let sink = GRPCMessageSink { message in
                try await loop.flatSubmit { handler.value.writeStreamMessage(message, on: id, context: boundContext.value) }.get()
            }
            calls[id]!.task = Task(executorPreference: executor) {
                await withContext { serverContext in
                    do {
                        try await run(serverContext, sink)
                        finish(.success(nil))
                    } catch {
                        finish(.failure(mapError(error)))
                    }
                }
            }
        }
        if let timeout = call.timeout {
            calls[id]!.deadline = loop.scheduleTask(in: timeout) {
                let handler = handler.value
                guard let call = handler.calls[id], call.task != nil else { return }
                handler.stopWork(of: call)
                handler.respond(id, .failure(RPCError(code: .deadlineExceeded, message: "the call's deadline passed")), context: boundContext.value)
            }
        }
    }
}
