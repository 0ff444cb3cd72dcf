"""Use cases. The CLI and the UI call these; each owns its transaction and checks the role."""
