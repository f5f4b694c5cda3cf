"""Worker entry points: build clients and register workflows with their activities."""
