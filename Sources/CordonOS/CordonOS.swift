// The CordonOS module; see docs/architecture.md.
