"""The `signoff` command line: run the stack, the worker, migrations, and operator overrides."""
