import CordonScan
import CordonTestSupport
import FoundationEssentials
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The checker's throughput on a clean body, for bench/dlp/run.py: runs only when
/// `CORDON_BENCH_DLP` names the MiB to stream, and prints one JSON line (`dlp-bench {...}`).
@Suite struct StreamingLeakCheckBench {
    static let mebibytes = getenv("CORDON_BENCH_DLP").flatMap { Int(String(cString: $0)) }

    @Test(.enabled(if: mebibytes != nil)) func cleanBodyThroughput() async throws {
        let total = (Self.mebibytes ?? 0) << 20
        let result = try await onOwnThread { () throws -> String in
            let scanner = try SecretScanner(RuleSet.defaults())
            let block = StreamingLeakCheckTests.cleanBlock(1 << 20)
            var lines: [String] = []
            for (name, chunk) in [("16k", 16 << 10), ("64k", 64 << 10), ("1k", 1 << 10)] {
                var best = Double.infinity
                for _ in 0..<3 {
                    let check = StreamingLeakCheck(scanner: scanner)
                    var fed = 0
                    let start = ContinuousClock.now
                    block.withUnsafeBytes { raw in
                        while fed < total {
                            for offset in stride(from: 0, to: raw.count, by: chunk) where fed < total {
                                let piece = UnsafeRawBufferPointer(rebasing: raw[offset..<min(offset + chunk, raw.count)])
                                _ = check.feed(piece)
                                fed += piece.count
                            }
                        }
                    }
                    _ = check.finish()
                    let elapsed = ContinuousClock.now - start
                    best = min(best, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                }
                lines.append("\"\(name)\": {\"seconds\": \(best), \"mib_per_s\": \(Double(total >> 20) / best)}")
            }
            // The peer: the gate's scan of the same text as one file (what `cordon scan` does per file).
            let fileMiB = min(total >> 20, 64)
            var file: [UInt8] = []
            for _ in 0..<fileMiB { file += block }
            let session = SecretScanner.Session(scanner: scanner)
            var best = Double.infinity
            for _ in 0..<3 {
                let start = ContinuousClock.now
                _ = session.scan(file, path: "body.txt")
                let elapsed = ContinuousClock.now - start
                best = min(best, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            }
            let peer = "\"whole_file_scan\": {\"mib\": \(fileMiB), \"seconds\": \(best), \"mib_per_s\": \(Double(fileMiB) / best)}"
            return "{\"mib\": \(total >> 20), \"chunks\": {" + lines.joined(separator: ", ") + "}, " + peer + "}"
        }
        print("dlp-bench " + result)
    }
}
