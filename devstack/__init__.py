"""The embedded local stack: Temporal dev server, demo org, and the run-everything command."""
