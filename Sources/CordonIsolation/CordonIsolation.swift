// The CordonIsolation module; see docs/architecture.md.
