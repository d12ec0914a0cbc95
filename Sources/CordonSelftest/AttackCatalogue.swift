/// Every attack `cordon selftest` knows, in the order they run. A category's attacks are added
/// here as one list (docs/selftest.md, "Adding an attack").
public enum AttackCatalogue {
    public static var all: [Attack] {
        FilesystemAttacks.all + FilesystemDeviceAttacks.all + LeakAttacks.all
            + SyncTrapAttacks.all + SyncTrickAttacks.all + SyncContentAttacks.all
            + SupplyChainAttacks.all
            + NetworkAttacks.all + SecretAttacks.all
            + ProcessAttacks.all + KernelLoadAttacks.all
            + ResourceAttacks.all
            + IsolationAttacks.all
    }
}
