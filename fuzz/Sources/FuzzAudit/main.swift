// The audit log reader (AuditLines, AuditHead, AuditVerifier: what `cordon audit verify` reads).
// First byte even: the rest is a log file's bytes, its first line the head file's. Odd: each
// line becomes a record's text; the chain AuditChain writes for them, continued by AuditLog,
// verifies (a log cordon wrote is never reported as tampered with).
import CordonAudit
import CordonCore
import FuzzSupport

#if canImport(Glibc)
    import Glibc
#endif

let layout = SandboxLayout(directory: fuzzDirectory + "/sandbox")
let sandbox = "fuzz"
let made: Void = { _ = mkdir(layout.directory, 0o700) }()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    _ = made
    let input = bytes(data, size)
    guard let mode = input.first else { return 0 }
    let rest = Array(input.dropFirst())
    if mode & 1 == 0 {
        let newline = rest.firstIndex(of: 0x0A) ?? rest.endIndex
        writeFile(layout.auditHead, Array(rest[..<newline]))
        writeFile(layout.auditLog, newline < rest.endIndex ? Array(rest[(newline + 1)...]) : [])
        _ = try? AuditVerifier.verify(layout: layout, sandbox: sandbox)
        return 0
    }
    let texts = rest.split(separator: 0x0A, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    var log: [UInt8] = []
    var prev = AuditChain.genesis(sandbox: sandbox)
    for (index, text) in texts.enumerated() {
        let record = AuditRecord(kind: text.isEmpty ? "note" : text, time: "2026-12-07T00:00:00Z", fields: [("text", .string(text))])
        let line = AuditChain.line(record, seq: index + 1, prev: prev)
        prev = AuditChain.hash(line)
        log += line + [0x0A]
    }
    writeFile(layout.auditLog, log)
    do {
        let writer = try AuditLog(layout: layout, sandbox: sandbox)
        try writer.append(AuditRecord(kind: "after", time: "2026-12-07T00:00:01Z", fields: [("text", .string(texts.last ?? ""))]))
        try writer.writeHead()
        let result = try AuditVerifier.verify(layout: layout, sandbox: sandbox)
        guard case .success(let report) = result else {
            invariant(false, "a log AuditChain and AuditLog wrote does not verify: \(result)")
            return 0
        }
        invariant(report.records == texts.count + 1, "verified \(report.records) records of \(texts.count + 1)")
    } catch {
        invariant(false, "writing or verifying the log failed: \(error)")
    }
    return 0
}

runFuzzer(fuzz)
