"""Code that drives Temporal from outside a worker: the CLI and the API share it."""
