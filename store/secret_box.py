"""Secrets at rest: AES-256-GCM under a key ring, the newest key encrypting, all keys decrypting.

A stored secret reads `enc:v1:<key id>:<base64url(nonce + ciphertext + tag)>`. The caller names
what the secret belongs to (`context`, e.g. "mailboxes.secret:42"); it is bound into the
ciphertext as associated data, so a value copied into another row or column fails to decrypt
instead of lending that row its secret.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from config.settings import Settings

PREFIX = "enc:v1:"
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_NONCE_BYTES = 12


class SecretKeyError(ValueError):
    """The configured key ring is malformed (says which entry, never the key)."""


class SecretDecryptError(ValueError):
    """A stored secret cannot be decrypted (unknown key, tampered, or moved to another row)."""


@dataclass(frozen=True)
class SecretKey:
    """One AES-256 key and the id stored beside what it encrypted."""

    key_id: str
    key: bytes

    def __repr__(self) -> str:  # never show key material, not even in a traceback
        return f"SecretKey(key_id={self.key_id!r})"


def new_key_text(key_id: str) -> str:
    """A fresh key ring entry, `id:base64url(32 random bytes)`, for SIGNOFF_ENCRYPTION_KEYS."""
    if not _KEY_ID.match(key_id):
        raise SecretKeyError("a key id is 1-32 letters, digits, '-' or '_'")
    return f"{key_id}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}"


def parse_key_ring(text: str) -> list[SecretKey]:
    """Keys from `id:base64,id:base64,...`; the first one encrypts."""
    keys: list[SecretKey] = []
    for position, entry in enumerate(filter(None, (part.strip() for part in text.split(","))), 1):
        key_id, sep, encoded = entry.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise SecretKeyError(
                f"encryption key {position} must read ID:BASE64 with an id of letters, "
                "digits, '-' or '_'"
            )
        try:
            key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            raise SecretKeyError(f"encryption key {key_id!r} is not base64") from None
        if len(key) != 32:
            raise SecretKeyError(f"encryption key {key_id!r} must be 32 bytes (AES-256)")
        if any(known.key_id == key_id for known in keys):
            raise SecretKeyError(f"encryption key id {key_id!r} appears twice")
        keys.append(SecretKey(key_id, key))
    if not keys:
        raise SecretKeyError("the encryption key ring is empty")
    return keys


class SecretBox:
    """Encrypts with the current (first) key; decrypts with whichever key a value names."""

    def __init__(self, keys: list[SecretKey]) -> None:
        if not keys:
            raise SecretKeyError("the encryption key ring is empty")
        self._current = keys[0]
        self._by_id = {key.key_id: AESGCM(key.key) for key in keys}

    @property
    def current_key_id(self) -> str:
        """The id of the key new values are encrypted under."""
        return self._current.key_id

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """The stored form of `plaintext`, bound to `context`."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._by_id[self._current.key_id].encrypt(
            nonce, plaintext.encode(), context.encode()
        )
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{PREFIX}{self._current.key_id}:{body}"

    def decrypt(self, stored: str, *, context: str) -> str:
        """The plaintext of a stored value; legacy plaintext (no prefix) is returned as it is."""
        if not is_encrypted(stored):
            return stored
        key_id, _, body = stored[len(PREFIX) :].partition(":")
        cipher = self._by_id.get(key_id)
        if cipher is None:
            raise SecretDecryptError(
                f"a secret of {context.split(':')[0]} is under key {key_id!r}, "
                "which is not in SIGNOFF_ENCRYPTION_KEYS"
            )
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            plain = cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except (InvalidTag, binascii.Error, ValueError):
            raise SecretDecryptError(
                f"a secret of {context.split(':')[0]} does not decrypt: altered, or copied "
                "from another row"
            ) from None
        return plain.decode()

    def needs_rewrite(self, stored: str) -> bool:
        """True for legacy plaintext and for values under a key other than the current one."""
        if not is_encrypted(stored):
            return True
        return not stored.startswith(f"{PREFIX}{self._current.key_id}:")


def is_encrypted(stored: str) -> bool:
    """Whether a stored value is in the encrypted form."""
    return stored.startswith(PREFIX)


def secret_box(settings: Settings) -> SecretBox:
    """The key ring from SIGNOFF_ENCRYPTION_KEYS, or one key generated once into the data folder."""
    if settings.encryption_keys is not None:
        return SecretBox(parse_key_ring(settings.encryption_keys.get_secret_value()))
    path = Path(settings.data_dir) / "encryption-keys"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process of this machine made it first; read theirs
        else:
            with os.fdopen(fd, "w") as out:
                out.write(new_key_text("k1"))
    return SecretBox(parse_key_ring(path.read_text().strip()))
