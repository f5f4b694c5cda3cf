"""The key ring for secrets at rest: what it seals opens only with its key and its context,
old keys keep decrypting after a new one is prepended, and no error ever holds a secret."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from config.settings import Settings
from store.secret_box import (
    PREFIX,
    SecretBox,
    SecretDecryptError,
    SecretKeyError,
    is_encrypted,
    new_key_text,
    parse_key_ring,
    secret_box,
)

SECRET = "imap-password-Ünïcode-🔑"
CONTEXT = "mailboxes.secret:mbx-1"


def _box(*entries: str) -> SecretBox:
    return SecretBox(parse_key_ring(",".join(entries)))


def test_a_sealed_secret_opens_to_its_plaintext_and_never_shows_it() -> None:
    box = _box(new_key_text("k1"))
    sealed = box.encrypt(SECRET, context=CONTEXT)
    assert sealed.startswith(f"{PREFIX}k1:") and is_encrypted(sealed)
    assert SECRET not in sealed and SECRET.encode() not in base64.urlsafe_b64decode(
        sealed.rsplit(":", 1)[1] + "=="
    )
    assert box.decrypt(sealed, context=CONTEXT) == SECRET
    # A fresh nonce each time: the same secret never seals to the same text twice.
    assert box.encrypt(SECRET, context=CONTEXT) != sealed
    assert not box.needs_rewrite(sealed)


def test_legacy_plaintext_reads_as_it_is_and_needs_a_rewrite() -> None:
    box = _box(new_key_text("k1"))
    assert box.decrypt("plain-old-password", context=CONTEXT) == "plain-old-password"
    assert box.needs_rewrite("plain-old-password")


def test_an_old_key_still_decrypts_after_a_new_one_is_prepended() -> None:
    old = new_key_text("2025")
    sealed_before = _box(old).encrypt(SECRET, context=CONTEXT)
    ring = _box(new_key_text("2026"), old)
    assert ring.current_key_id == "2026"
    assert ring.decrypt(sealed_before, context=CONTEXT) == SECRET
    assert ring.needs_rewrite(sealed_before)
    resealed = ring.encrypt(SECRET, context=CONTEXT)
    assert resealed.startswith(f"{PREFIX}2026:") and not ring.needs_rewrite(resealed)
    # Once the old key is dropped, what it sealed is refused by name, not silently wrong.
    with pytest.raises(SecretDecryptError, match="key '2025', which is not in") as refused:
        _box(new_key_text("2026")).decrypt(sealed_before, context=CONTEXT)
    assert SECRET not in str(refused.value)


def test_a_tampered_value_is_refused_without_showing_the_secret() -> None:
    box = _box(new_key_text("k1"))
    sealed = box.encrypt(SECRET, context=CONTEXT)
    body = sealed.rsplit(":", 1)[1]
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[-1] ^= 1
    tampered = sealed.rsplit(":", 1)[0] + ":" + base64.urlsafe_b64encode(raw).decode()
    for bad in (tampered, sealed[:-4], f"{PREFIX}k1:not base64 at all!"):
        with pytest.raises(SecretDecryptError, match="does not decrypt") as refused:
            box.decrypt(bad, context=CONTEXT)
        assert SECRET not in str(refused.value) and body not in str(refused.value)
        assert str(refused.value).startswith("a secret of mailboxes.secret ")


def test_a_value_copied_into_another_row_is_refused() -> None:
    box = _box(new_key_text("k1"))
    sealed = box.encrypt(SECRET, context="mailboxes.secret:mbx-1")
    with pytest.raises(SecretDecryptError, match="copied from another row") as refused:
        box.decrypt(sealed, context="mailboxes.secret:mbx-2")
    assert SECRET not in str(refused.value)
    with pytest.raises(SecretDecryptError):
        box.decrypt(sealed, context="webhooks.secret:mbx-1")


@pytest.mark.parametrize(
    ("ring", "message"),
    [
        ("", "the encryption key ring is empty"),
        (" , ,", "the encryption key ring is empty"),
        ("no-colon-here", "encryption key 1 must read ID:BASE64"),
        ("bad id!:AAAA", "encryption key 1 must read ID:BASE64"),
        ("k1:A", "encryption key 'k1' is not base64"),
        ("k1:%%%%", "encryption key 'k1' must be 32 bytes"),
        (f"k1:{base64.urlsafe_b64encode(os.urandom(16)).decode()}", "must be 32 bytes"),
    ],
)
def test_a_malformed_key_ring_is_refused_saying_which_entry(ring: str, message: str) -> None:
    with pytest.raises(SecretKeyError, match=message) as refused:
        parse_key_ring(ring)
    key_material = ring.partition(":")[2]
    if len(key_material) > 4:
        assert key_material not in str(refused.value)


def test_a_key_id_twice_is_refused_and_the_second_entry_named() -> None:
    first, second = new_key_text("k1"), new_key_text("k2")
    with pytest.raises(SecretKeyError, match="'k1' appears twice") as refused:
        parse_key_ring(f"{first},{second},{new_key_text('k1')}")
    assert first.partition(":")[2] not in str(refused.value)


def test_keys_never_show_in_their_repr() -> None:
    [key] = parse_key_ring(new_key_text("k1"))
    assert repr(key) == "SecretKey(key_id='k1')"
    with pytest.raises(SecretKeyError, match="1-32 letters"):
        new_key_text("a key with spaces")


def test_without_a_configured_ring_one_key_is_generated_into_the_data_folder(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, encryption_keys=None)
    first = secret_box(settings)
    key_file = tmp_path / "encryption-keys"
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    [key] = parse_key_ring(key_file.read_text())
    assert key.key_id == first.current_key_id == "k1"
    sealed = first.encrypt(SECRET, context=CONTEXT)
    # A second process (the worker beside the API) reads the same key instead of making one.
    assert secret_box(settings).decrypt(sealed, context=CONTEXT) == SECRET


def test_a_configured_ring_wins_over_the_generated_file(tmp_path: Path) -> None:
    entry = new_key_text("prod")
    settings = Settings(data_dir=tmp_path, encryption_keys=SecretStr(entry))
    assert secret_box(settings).current_key_id == "prod"
    assert not (tmp_path / "encryption-keys").exists()
    bad = Settings(data_dir=tmp_path, encryption_keys=SecretStr("prod:c2hvcnQ="))
    with pytest.raises(SecretKeyError, match="must be 32 bytes"):
        secret_box(bad)
