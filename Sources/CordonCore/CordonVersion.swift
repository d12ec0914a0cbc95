/// cordon's version, as `cordon --version` and the MCP server's `serverInfo` say it.
public enum CordonVersion {
    public static let string = "0.1.0"
}
