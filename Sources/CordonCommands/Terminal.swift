import CordonCore
import Glibc

/// User-facing output: data to stdout, notes and errors to stderr.
enum Terminal {
    static func note(_ text: String) {
        let line = text + "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }

    static func currentDirectory() -> String {
        guard let cwd = getcwd(nil, 0) else { return "." }
        defer { free(cwd) }
        return String(cString: cwd)
    }

    /// Runs `body`; a CordonError is printed as `cordon: …` and becomes `status`.
    static func exitOnError(status: Int32 = 125, _ body: () throws -> Int32) -> Int32 {
        do { return try body() } catch let error as CordonError {
            note("cordon: \(error)")
            return status
        } catch {
            note("cordon: \(error)")
            return status
        }
    }
}
