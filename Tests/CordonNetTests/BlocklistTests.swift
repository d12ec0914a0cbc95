import CordonCore
import CordonPolicy
import CordonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@testable import CordonNet

@Suite struct BlocklistTests {
    @Test func parsesTheCommonFormats() {
        let text = """
            # a hosts file
            127.0.0.1 localhost
            0.0.0.0 ads.example.com
            0.0.0.0 tracker.example.net other.example.org # trailing comment
            127.0.0.1\tTABBED.example
            ::1 ip6-localhost
            plain.example
            ||adblock.example^
            ||path.example/ads^
            ||opts.example^$third-party
            ! adblock comment
            [Adblock Plus 2.0]
            not a domain line here
            bücher.example\r

            """
        var names: [String] = []
        Blocklist.parse(text) { names.append($0) }
        #expect(
            names == [
                "ads.example.com", "tracker.example.net", "other.example.org", "tabbed.example", "plain.example",
                "adblock.example", "xn--bcher-kva.example",
            ])
    }

    @Test func blocksSubdomainsButNotLookalikes() {
        let list = Blocklist(domains: ["ads.example.com", "evil.test"])
        #expect(list.contains("ads.example.com"))
        #expect(list.contains("x.y.ADS.example.com."))
        #expect(list.contains("evil.test"))
        #expect(!list.contains("example.com"))
        #expect(!list.contains("notads.example.com"))
        #expect(!list.contains("ads.example.com.au"))
        #expect(list.match("a.evil.test") == "evil.test")
    }

    @Test func millionEntriesNoFalseBlocks() async throws {
        // CPU-heavy: on threads of their own, so the cooperative pool stays free for the suites
        // whose servers (proxy, DNS stub) answer through it.
        let list = try await onOwnThread { try Self.loadGeneratedMillion() }
        #expect(list.count == 1_000_000)
        for i in stride(from: 0, to: 1_000_000, by: 9973) {
            #expect(list.contains("host\(i).block.test"))
            #expect(list.contains("sub.host\(i).block.test"))
        }
        // None of these is listed; Bloom false positives must be absorbed by the exact check.
        let falseBlocks = try await onOwnThread {
            (0..<100_000).filter { list.contains("host\($0).allowed.test") || list.contains("other\($0).block.test") }.count
        }
        #expect(falseBlocks == 0)
        #expect(!list.contains("block.test"))
        // The compiled form answers exactly the same (built and checked off the pool too).
        let (count, hits, misses) = try await onOwnThread {
            let compiled = try Blocklist(compiled: list.compiled(), path: "memory")
            let hits = stride(from: 0, to: 1_000_000, by: 7919).filter { compiled.contains("a.host\($0).block.test") }.count
            let misses = (0..<10_000).filter { !compiled.contains("host\($0).allowed.test") }.count
            return (compiled.count, hits, misses)
        }
        #expect(count == list.count)
        #expect(hits == (1_000_000 + 7918) / 7919)
        #expect(misses == 10_000)
    }

    @Test func compiledListsRoundTripAndCorruptionIsRefused() throws {
        let list = Blocklist(domains: ["ads.example", "Tracker.Example.", "xn--bcher-kva.example", "bücher.example"])
        let bytes = list.compiled()
        let loaded = try Blocklist(compiled: bytes, path: "memory")
        #expect(loaded.count == 3)
        #expect(loaded.match("x.ads.example") == "ads.example")
        #expect(loaded.contains("tracker.example"))
        #expect(loaded.contains("BÜCHER.example"))
        #expect(!loaded.contains("example"))
        #expect(!loaded.contains("ads.example.com"))
        var corrupt = bytes
        corrupt[bytes.count - 40] = 0xFF
        corrupt[12] = 0xFF  // count beyond the file
        #expect(throws: CordonError.self) { try Blocklist(compiled: corrupt, path: "bad.cbl") }
        #expect(throws: CordonError.self) { try Blocklist(compiled: Array(bytes.prefix(30)), path: "short.cbl") }
        #expect(Blocklist(domains: []).compiled().count > 0)
        #expect(try !Blocklist(compiled: Blocklist(domains: []).compiled(), path: "empty").contains("a.example"))
    }

    @Test func textListsAreCompiledOnceIntoTheCache() throws {
        let scratch = try TempTree(prefix: "cordon-blcache")
        let dir = scratch.path("cache")
        let path = scratch.path("list.txt")
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        _ = "0.0.0.0 a.example\n||b.example^\nc.example\n".utf8.withContiguousStorageIfAvailable { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        let first = try Blocklist.load(paths: [path], cacheDirectory: dir)
        let cached = try Blocklist.load(paths: [path], cacheDirectory: dir)
        #expect(first.count == 3 && cached.count == 3)
        #expect(cached.contains("x.b.example"))
        var entries = 0
        if let d = opendir(dir) {
            while let e = readdir(d) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name.hasSuffix(".cbl") { entries += 1 }
            }
            closedir(d)
        }
        #expect(entries == 1)
    }

    static func loadGeneratedMillion() throws -> Blocklist {
        let scratch = try TempTree(prefix: "cordon-blocklist")
        let path = scratch.path("list.txt")
        var text = "# generated\n"
        text.reserveCapacity(30_000_000)
        for i in 0..<1_000_000 { text += "0.0.0.0 host\(i).block.test\n" }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw CordonError(.io, "cannot write \(path)") }
        _ = text.utf8.withContiguousStorageIfAvailable { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        let start = WallClock.monotonic()
        let list = try Blocklist.load(paths: [path])
        print("blocklist: loaded 1,000,000 entries in \(WallClock.monotonic() - start) s (debug build)")
        return list
    }
}
