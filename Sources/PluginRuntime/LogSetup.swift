import Logging

/// One logging configuration for the process: swift-log's stream handler on standard error,
/// behind `EscapingLogHandler`.
public enum LogSetup {
    /// Bootstraps swift-log; call once, at process start. Control characters in anything
    /// logged are escaped (`EscapingLogHandler`).
    public static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = EscapingLogHandler(wrapping: StreamLogHandler.standardError(label: label))
            handler.logLevel = level
            return handler
        }
    }

    /// The level for ceph-csi's klog verbosity `--v=N`: 5 and more is trace, 4 debug, else info.
    public static func level(klogVerbosity v: Int) -> Logger.Level {
        v >= 5 ? .trace : (v >= 4 ? .debug : .info)
    }
}
