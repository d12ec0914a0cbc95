/// Why a document is not TOML 1.0, and where: 1-based line and column (the column counts
/// characters, not bytes) of the first byte the parser could not accept.
public struct TOMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String

    public init(line: Int, column: Int, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    /// `line:column: message`, for a caller to prefix with the file's name.
    public var description: String { "\(line):\(column): \(message)" }
}
