"""The server's secret: configured, or generated once into the data folder (embedded use)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from config.settings import Settings


def secret_key(settings: Settings) -> bytes:
    """The configured secret, or one generated once into the data folder (embedded use)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = Path(settings.data_dir) / "secret-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()
