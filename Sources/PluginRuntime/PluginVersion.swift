/// The plugin's version, reported by GetPluginInfo and `rbdcsi --version`.
public enum PluginVersion {
    public static let current = "0.1.0"
}
