/// Unified diffs of two texts, line by line.
///
/// The edit script comes from the standard library's `difference(from:)` (Myers' O(ND)
/// algorithm); this type only aligns it and groups it into hunks with context.
public enum TextDiff {
    enum Op: Equatable {
        case same(Int, Int)
        case delete(Int)
        case insert(Int)
    }

    /// A unified diff (`--- a/path`, `+++ b/path`, `@@ … @@` hunks), or "" when equal.
    public static func unified(old: String, new: String, oldName: String, newName: String, context: Int = 3) -> String {
        let a = lines(old)
        let b = lines(new)
        let ops = align(a, b)
        guard ops.contains(where: { if case .same = $0 { false } else { true } }) else { return "" }
        var out = "--- \(oldName)\n+++ \(newName)\n"
        var index = 0
        while index < ops.count {
            guard let firstChange = ops[index...].firstIndex(where: { if case .same = $0 { false } else { true } }) else { break }
            let start = max(index, firstChange - context)
            var end = firstChange
            var lastChange = firstChange
            while end < ops.count {
                if case .same = ops[end] {
                    if end - lastChange > 2 * context { break }
                } else {
                    lastChange = end
                }
                end += 1
            }
            let stop = min(ops.count, lastChange + context + 1)
            var oldStart = 0
            var newStart = 0
            var oldCount = 0
            var newCount = 0
            var body = ""
            var first = true
            for op in ops[start..<stop] {
                switch op {
                case .same(let i, let j):
                    if first { oldStart = i + 1; newStart = j + 1 }
                    oldCount += 1
                    newCount += 1
                    body += " " + a[i] + "\n"
                case .delete(let i):
                    if first { oldStart = i + 1; newStart = position(ops, before: op) }
                    oldCount += 1
                    body += "-" + a[i] + "\n"
                case .insert(let j):
                    if first { newStart = j + 1; oldStart = positionOld(ops, before: op) }
                    newCount += 1
                    body += "+" + b[j] + "\n"
                }
                first = false
            }
            if oldCount == 0 { oldStart -= 1 }
            if newCount == 0 { newStart -= 1 }
            out += "@@ -\(oldStart),\(oldCount) +\(newStart),\(newCount) @@\n" + body
            index = stop
        }
        return out
    }

    static func lines(_ text: String) -> [String] {
        var result = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if result.last == "" { result.removeLast() }
        return result
    }

    static func align(_ a: [String], _ b: [String]) -> [Op] {
        let difference = b.difference(from: a)
        var removed = Set<Int>()
        var inserted = Set<Int>()
        for change in difference {
            switch change {
            case .remove(let offset, _, _): removed.insert(offset)
            case .insert(let offset, _, _): inserted.insert(offset)
            }
        }
        var ops: [Op] = []
        var i = 0
        var j = 0
        while i < a.count || j < b.count {
            if i < a.count && removed.contains(i) {
                ops.append(.delete(i))
                i += 1
            } else if j < b.count && inserted.contains(j) {
                ops.append(.insert(j))
                j += 1
            } else if i < a.count && j < b.count {
                ops.append(.same(i, j))
                i += 1
                j += 1
            } else {
                break
            }
        }
        return ops
    }

    /// 1-based line in the new text where a hunk starting with a deletion begins.
    private static func position(_ ops: [Op], before target: Op) -> Int {
        var j = 0
        for op in ops {
            if op == target { return j + 1 }
            switch op {
            case .same(_, let n): j = n + 1
            case .insert(let n): j = n + 1
            case .delete: break
            }
        }
        return j + 1
    }

    private static func positionOld(_ ops: [Op], before target: Op) -> Int {
        var i = 0
        for op in ops {
            if op == target { return i + 1 }
            switch op {
            case .same(let n, _): i = n + 1
            case .delete(let n): i = n + 1
            case .insert: break
            }
        }
        return i + 1
    }
}
