/// An allowlist's stopwords: does a secret contain any of them (ASCII case-insensitive)? Words are
/// filed under their first byte, so each offset of the secret costs one table lookup and compares
/// only the few words starting with that byte, however many a config lists (gitleaks' own has well
/// over a thousand).
struct Stopwords {
    private var byFirstByte: [[[UInt8]]] = Array(repeating: [], count: 256)
    let isEmpty: Bool

    init(_ words: [String]) {
        var any = false
        for word in Set(words) where !word.isEmpty {
            let bytes = SecretScanner.asciiLowercased(Array(word.utf8))
            byFirstByte[Int(bytes[0])].append(bytes)
            any = true
        }
        isEmpty = !any
    }

    func occur(in text: String) -> Bool {
        var text = text
        return text.withUTF8 { raw in
            for start in raw.indices {
                let first = raw[start] >= 65 && raw[start] <= 90 ? raw[start] | 0x20 : raw[start]
                for word in byFirstByte[Int(first)] where word.count <= raw.count - start {
                    var equal = true
                    for offset in 1..<word.count {
                        let byte = raw[start + offset]
                        if (byte >= 65 && byte <= 90 ? byte | 0x20 : byte) != word[offset] {
                            equal = false
                            break
                        }
                    }
                    if equal { return true }
                }
            }
            return false
        }
    }
}
