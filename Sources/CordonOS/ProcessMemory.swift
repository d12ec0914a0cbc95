import CCordon

/// This process's own memory.
public enum ProcessMemory {
    /// Drops the resident pages of the main program's relocation table, which the dynamic loader
    /// read once at start-up (2.7 MB of `cordon`'s resident size for the whole run otherwise).
    /// Returns the bytes dropped (0 when the table is absent or shares pages that are written).
    @discardableResult
    public static func dropRelocationTable() -> Int { Int(ccordon_drop_relocation_table()) }
}
