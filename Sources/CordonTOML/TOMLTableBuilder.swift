/// A table while the document is read: what defined it, for the spec's redefinition rules.
final class TOMLTableBuilder {
    enum Origin {
        /// Created as a step of a longer `[a.b.c]` header: a later `[a]` may still define it.
        case implicit
        /// Defined by its own `[header]` or `[[header]]` (and the document's root).
        case header
        /// Created by a dotted key (`a.b = 1`): more dotted keys may add to it, a header not.
        case dotted
        /// The body of an inline table, frozen once its `}` is read.
        case inline
    }

    enum Slot {
        case value(TOMLValue)
        case table(TOMLTableBuilder)
        case tables(TOMLTableArray)
    }

    var origin: Origin
    /// The nesting level of the value that holds this table (the root is 0).
    let depth: Int
    /// The byte offset where the table was first defined or created, for messages.
    let offset: Int
    private(set) var order: [String] = []
    private(set) var slots: [String: Slot] = [:]
    private(set) var offsets: [String: Int] = [:]

    init(origin: Origin, depth: Int, offset: Int) {
        self.origin = origin
        self.depth = depth
        self.offset = offset
    }

    func insert(_ key: String, _ slot: Slot, at offset: Int) {
        if slots.updateValue(slot, forKey: key) == nil { order.append(key) }
        offsets[key] = offset
    }

    /// The finished table; recursion is bounded by `TOMLDocument.maxDepth`.
    func build() -> TOMLTable {
        var table = TOMLTable()
        for key in order {
            switch slots[key] {
            case .value(let value): table[key] = value
            case .table(let child): table[key] = .table(child.build())
            case .tables(let array): table[key] = .array(array.items.map { .table($0.build()) })
            case nil: break
            }
        }
        return table
    }
}

/// An array of tables made by `[[header]]`: a later `[[header]]` appends, `[header.sub]`
/// extends its last element.
final class TOMLTableArray {
    var items: [TOMLTableBuilder]
    init(_ first: TOMLTableBuilder) { items = [first] }
}
