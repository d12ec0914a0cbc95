// The CordonConfig module; see docs/architecture.md.
