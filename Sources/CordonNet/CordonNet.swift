// The CordonNet module; see docs/architecture.md.
