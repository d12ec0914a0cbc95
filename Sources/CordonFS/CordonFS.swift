// The CordonFS module; see docs/architecture.md.
