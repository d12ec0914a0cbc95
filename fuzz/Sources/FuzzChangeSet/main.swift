// The overlay change-set reader (ChangeSet.read, as SyncTarget.changeSet hands it to `cordon diff`,
// `cordon sync` and the auto-sync gate), then the gate's own checks on the result (SyncGate with no
// secret rules: path policy, traps, filesystem tricks, host checks; the secret scan has its own
// target). The input is a program that builds an upper layer (Program.swift says how the bytes
// read); the lower layer is a small fixed workspace beside it, and a canary directory outside both
// holds what a followed symlink would reveal.
//
// Invariants: every path is relative, with no empty, `.` or `..` component; every change names an
// entry the input made, or a lower entry that a whiteout, opaque directory or replacement of the
// input's removes; an entry the input made that the lower layer lacks is reported; a file's size
// is what was written, a symlink is reported as a symlink with its own target (never read through);
// flags (hard link, special, setuid/setgid/sticky) are the entry's; the reader fails only with
// `unsupported`, and only when the input set a redirect or metacopy xattr; two reads are equal;
// a snapshot holds no more than the gate's size limits let it read; the gate evaluates the set
// (never failing on it) and blocks every special file, set-id bit, hard link, unsafe name and
// absolute symlink the reader reported.
import CordonCore
import CordonFS
import CordonGate
import CordonScan
import FuzzSupport

#if canImport(Glibc)
    import Glibc
#endif

let fixture = Fixture.make(in: fuzzDirectory)
/// Small size limits, so that inputs reach them: a snapshot copies no more than the gate reads.
let policy = GatePolicy(deny: ["denied/**"], maxFileSize: 16 * 1024, maxTotalSize: 48 * 1024)
let gate: SyncGate = {
    do {
        let scanner = try SecretScanner(RuleSet(rules: []), useHyperscan: false)
        return try SyncGate(policy: policy, scanner: scanner)
    } catch {
        invariant(false, "cannot build the gate: \(error)")
        fatalError()
    }
}()
nonisolated(unsafe) var runs = 0

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard let mode = input.first else { return 0 }
    runs += 1
    let upper = fuzzDirectory + "/upper-\(runs)"
    guard mkdir(upper, 0o755) == 0 else {
        invariant(false, "cannot make \(upper): errno \(errno)")
        return 0
    }
    defer { removeTree(upper) }
    // Odd: a running sandbox's read, copying into a snapshot (which the gate then reads).
    let snapshots = mode & 1 == 1 ? [fuzzDirectory + "/snapshot-a-\(runs)", fuzzDirectory + "/snapshot-b-\(runs)"] : [nil, nil]
    defer { for snapshot in snapshots { if let snapshot { removeTree(snapshot) } } }
    var program = Program(Array(input.dropFirst()))
    let model = program.build(upper: upper)
    let first = read(upper: upper, snapshot: snapshots[0], model: model)
    let second = read(upper: upper, snapshot: snapshots[1], model: model)
    invariant(
        first?.changes == second?.changes,
        "two reads of the same upper layer differ:\n\(String(describing: first?.changes))\n\(String(describing: second?.changes))")
    guard let set = first else { return 0 }
    Checks(model: model, fixture: fixture, set: set, limits: snapshots[0] == nil ? nil : policy.snapshotLimits).run()
    if let snapshot = snapshots[0] {
        let copied = treeBytes(snapshot)
        let bound = policy.maxTotalSize + policy.maxFileSize + 1 + fixture.entries.values.reduce(0) { $0 + $1.size }
        invariant(copied <= bound, "the snapshot holds \(copied) bytes, over the gate's limits (\(bound))\n\(model.summary)")
    }
    if mode & 2 == 2 {
        checkGate(set, model: model)
    }
    return 0
}

/// `ChangeSet.read`, as SyncTarget.changeSet calls it; nil when it refused the layer as it may (an
/// overlay feature it does not read).
func read(upper: String, snapshot: String?, model: Model) -> ChangeSet? {
    do {
        return try ChangeSet.read(upper: upper, lower: fixture.lower, snapshot: snapshot, limits: policy.snapshotLimits)
    } catch {
        invariant(
            error.code == .unsupported && model.hasUnsupportedXattr,
            "ChangeSet.read failed (\(error.code)) on a layer it should read: \(error)\n\(model.summary)")
        return nil
    }
}

/// The gate evaluates what the reader produced and blocks what must never reach the host.
func checkGate(_ set: ChangeSet, model: Model) {
    let report: SyncGate.Report
    do {
        report = try gate.evaluate(set, created: nil)
    } catch {
        invariant(false, "the gate failed on a change set the reader produced: \(error)\n\(set.changes)")
        return
    }
    invariant(report.changes == set.changes, "the gate's report changed the change set")
    for change in set.changes where !change.kind.isDeletion {
        let f = change.flags
        let mustBlock =
            f.special || f.setuid || f.setgid || f.sticky || f.hardLinked || f.unsafeName != nil
            || (change.type == .symlink && (change.symlinkTarget ?? "").hasPrefix("/"))
        if mustBlock {
            invariant(report.severity(of: change.path) == .block, "the gate does not block \(change)\nfindings: \(report.findings)")
        }
    }
}

runFuzzer(fuzz)
