/// Lets a line about a refusal that can repeat at line rate through at most once a second, and
/// counts the ones held back, so the next line can say how many there were.
struct LineThrottle {
    private var last: Double?
    private var held = 0

    /// nil: hold this one back; otherwise write it, saying how many were held back before it.
    mutating func admit(now: Double) -> Int? {
        if let last, now - last < 1 {
            held += 1
            return nil
        }
        defer { (last, held) = (now, 0) }
        return held
    }
}
