"""Temporal workflow definitions: pure, deterministic, no I/O."""
