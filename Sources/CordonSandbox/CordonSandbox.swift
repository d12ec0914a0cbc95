// The CordonSandbox module; see docs/architecture.md.
