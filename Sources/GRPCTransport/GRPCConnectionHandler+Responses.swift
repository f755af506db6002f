import GRPCCore
import NIOCore
import NIOHPACK
import NIOHTTP2

extension GRPCConnectionHandler {
    /// Ends call `id` with `result`: a unary call's message (headers, message, trailers), a
    /// stream's end (trailers, and the opening headers if no message went before), or an error
    /// (trailers only, or trailers after the stream's messages). The observer hears the same
    /// status the client gets.
    func respond(_ id: HTTP2StreamID, _ result: Result<[UInt8]?, RPCError>, context: ChannelHandlerContext) {
        guard let call = calls.removeValue(forKey: id) else { return }
        forget(call)
        switch result {
        case .success(let message):
            if !call.headersSent {
                context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: GRPCWireFormat.responseHeaders)))), promise: nil)
            }
            if let message {
                let data = GRPCWireFormat.framed(message, allocator: context.channel.allocator)
                context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(data))))), promise: nil)
            }
            context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: GRPCWireFormat.okTrailers, endStream: true)))), promise: nil)
        case .failure(let error):
            let headers = call.headersSent ? GRPCWireFormat.trailers(error) : GRPCWireFormat.trailersOnly(error)
            context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: headers, endStream: true)))), promise: nil)
        }
        flush(context)
        observe(call, status: result.failure)
    }

    /// Writes one message of a streaming call (its opening headers first); the future completes
    /// once NIOHTTP2 has written it, within the stream's flow-control window. A call that has
    /// ended fails it with CANCELLED.
    func writeStreamMessage(_ message: [UInt8], on id: HTTP2StreamID, context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        guard calls[id] != nil else {
            return context.eventLoop.makeFailedFuture(RPCError(code: .cancelled, message: "the call has ended"))
        }
        if !calls[id]!.headersSent {
            calls[id]!.headersSent = true
            context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: GRPCWireFormat.responseHeaders)))), promise: nil)
        }
        let data = GRPCWireFormat.framed(message, allocator: context.channel.allocator)
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(data))))), promise: promise)
        flush(context)
        return promise.futureResult
    }

    /// Answers a call that will not run, and stops the rest of its request (RFC 9113 §8.1: a
    /// complete response, then RST_STREAM with NO_ERROR).
    func reject(_ id: HTTP2StreamID, _ error: RPCError, clientEnded: Bool, context: ChannelHandlerContext) {
        guard calls[id] != nil else { return }
        respond(id, .failure(error), context: context)
        stopRequest(id, clientEnded: clientEnded, context: context)
    }

    /// Answers a request that is not gRPC at all with a bare HTTP status (415 for another
    /// content-type, as grpc-swift's server answers).
    func reject(_ id: HTTP2StreamID, status: String, clientEnded: Bool, context: ChannelHandlerContext) {
        guard let call = calls.removeValue(forKey: id) else { return }
        forget(call)
        let headers: HPACKHeaders = [":status": status]
        context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: headers, endStream: true)))), promise: nil)
        flush(context)
        stopRequest(id, clientEnded: clientEnded, context: context)
    }

    /// Cancels a call's timers and gives back its buffered bytes.
    func forget(_ call: Call) {
        call.deadline?.cancel()
        call.bodyTimer?.cancel()
        release(call)
    }

    /// Stops a call's method when the call ends early: its `ServerContext.cancellation` first
    /// (a task cancelled first can leave its `withRPCCancellationHandler` before the handle
    /// fires, and the handler would never hear of it), then its task.
    func stopWork(of call: Call) {
        call.cancellation?.cancel()
        call.task?.cancel()
    }

    /// Tells the observer of a call of a served method that ran (or whose request was decoded).
    private func observe(_ call: Call, status: RPCError?) {
        guard let observer = hooks.observer, let method = call.method, let started = call.started else { return }
        observer.callEnded(method.descriptor, subject: call.subject, status: status, duration: .now - started)
    }

    /// RST_STREAM(NO_ERROR) after the answer, when the client is still sending.
    private func stopRequest(_ id: HTTP2StreamID, clientEnded: Bool, context: ChannelHandlerContext) {
        if !clientEnded {
            context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .rstStream(.noError))), promise: nil)
            flush(context)
        }
    }

    /// Forgets a call whose stream is gone; its task, if running, is cancelled, and the
    /// observer hears CANCELLED.
    func abandon(_ id: HTTP2StreamID) {
        guard let call = calls.removeValue(forKey: id) else { return }
        forget(call)
        stopWork(of: call)
        observe(call, status: RPCError(code: .cancelled, message: "the client reset the call or went away"))
    }

    /// Reopens the connection's flow-control window once half of it is used. NIOHTTP2 reports
    /// the window after every DATA frame, also those of streams already reset (which it drops
    /// and never passes on): counting only the frames this handler sees would leak the window
    /// until the connection stalled.
    func reopenConnectionWindow(from size: Int, context: ChannelHandlerContext) {
        guard size <= Self.connectionWindow / 2 else { return }
        let increment = Self.connectionWindow - size
        context.write(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: increment))), promise: nil)
        flush(context)
    }

    /// Flushes now, or at the end of the current read burst.
    func flush(_ context: ChannelHandlerContext) {
        if reading {
            needsFlush = true
        } else {
            context.flush()
        }
    }
}

extension Result {
    /// The error, or nil on success.
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
