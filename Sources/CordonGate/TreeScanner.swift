public import CordonCore
import CordonFS
import CordonOS
public import CordonScan

/// Scans files and directory trees on disk with a `SecretScanner` (what `cordon scan` runs).
public struct TreeScanner: Sendable {
    public let scanner: SecretScanner
    /// Files larger than this are reported as skipped, not read.
    public var maxFileSize: UInt64

    public init(scanner: SecretScanner, maxFileSize: UInt64 = 64 * 1024 * 1024) {
        self.scanner = scanner
        self.maxFileSize = maxFileSize
    }

    public struct Result: Sendable {
        public var findings: [Finding] = []
        public var filesScanned = 0
        public var bytesScanned: UInt64 = 0
        /// Files that look binary (a NUL byte early on); they are scanned all the same, as bytes
        /// and as the printable runs in them.
        public var binaryFiles = 0
    }

    /// Scans each root (file or directory); symlinks are not followed, `.git` directories skipped.
    public func scan(_ roots: [String]) throws(CordonError) -> Result {
        var result = Result()
        let session = SecretScanner.Session(scanner: scanner)
        for root in roots {
            guard let info = try FileInfo.lstat(root) else {
                throw CordonError(.notFound, "\(root) does not exist")
            }
            if info.type == .directory {
                try walk(root, relative: "", session: session, into: &result)
            } else if info.type == .file {
                try file(root, display: root, info: info, session: session, into: &result)
            }
        }
        return result
    }

    private func walk(_ root: String, relative: String, session: SecretScanner.Session, into result: inout Result) throws(CordonError) {
        let dir = relative.isEmpty ? root : root + "/" + relative
        for name in try DirectoryListing.sortedNames(dir) {
            let rel = relative.isEmpty ? name : relative + "/" + name
            guard let info = try FileInfo.lstat(root + "/" + rel) else { continue }
            switch info.type {
            case .directory where name != ".git": try walk(root, relative: rel, session: session, into: &result)
            case .file: try file(root + "/" + rel, display: rel, info: info, session: session, into: &result)
            default: continue
            }
        }
    }

    private func file(_ path: String, display: String, info: FileInfo, session: SecretScanner.Session, into result: inout Result) throws(CordonError) {
        guard info.size <= maxFileSize else {
            // Not a silent pass: a file too large to read is one the scan says nothing about.
            result.findings.append(
                Finding(
                    ruleID: "scan-too-large", severity: .approval, path: display,
                    message: "\(info.size) bytes, over the scanner's limit of \(maxFileSize): not scanned",
                    fix: "review \(display) by hand"))
            return
        }
        let bytes = try FileContents.read(path, limit: maxFileSize)
        if SecretScanner.isBinary(bytes) { result.binaryFiles += 1 }
        result.findings += session.scan(bytes, path: display)
        result.filesScanned += 1
        result.bytesScanned += UInt64(bytes.count)
    }
}
