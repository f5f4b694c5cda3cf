"""Temporal activities: all I/O, as classes whose clients are injected by the worker."""
