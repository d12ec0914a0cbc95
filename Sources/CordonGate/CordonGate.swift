// The CordonGate module; see docs/architecture.md.
