import CCordon

/// This process's own memory.
public enum ProcessMemory {
    /// Drops the resident pages of the main program's relocation table, which the dynamic loader
    /// read once at start-up (2.7 MB of `cordon`'s resident size for the whole run otherwise).
    /// Returns the bytes dropped (0 when the table is absent or shares pages that are written).
    @discardableResult
    public static func dropRelocationTable() -> Int { Int(ccordon_drop_relocation_table()) }

    /// Unmaps the resident pages of program code (this executable's and its libraries'), for a
    /// process that will idle from now on: start-up code no longer counts in its resident size.
    /// The pages stay in the page cache, shared, and fault back in when run again; a mapping
    /// holding a page of its own (text relocation, breakpoint) is left alone. Returns the bytes
    /// of the mappings dropped, or -errno.
    @discardableResult
    public static func dropProgramText() -> Int { Int(ccordon_drop_program_text()) }
}
