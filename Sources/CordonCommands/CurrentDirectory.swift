import Glibc

/// The process's working directory, against which relative paths on the command line are read.
enum CurrentDirectory {
    static var path: String {
        guard let cwd = getcwd(nil, 0) else { return "." }
        defer { free(cwd) }
        return String(cString: cwd)
    }

    /// `path` made absolute against the current directory.
    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : Self.path + "/" + path
    }
}
