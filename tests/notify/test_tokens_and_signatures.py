"""Action tokens and webhook signatures: what a receiver or a mail server relies on."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from notify.tokens import action_token, reply_address, token_from_address, token_hash
from notify.webhooks import UnsafeTarget, check_target, sign, verify

SECRET = b"s" * 32


def test_tokens_are_stable_distinct_and_address_safe() -> None:
    first = action_token(SECRET, "req-1", "L1", "alice", "approve")
    assert first == action_token(SECRET, "req-1", "L1", "alice", "approve")  # a resend reuses it
    others = {
        action_token(SECRET, "req-1", "L1", "alice", "reject"),
        action_token(SECRET, "req-1", "L2", "alice", "approve"),
        action_token(SECRET, "req-1", "L1", "bob", "approve"),
        action_token(SECRET, "req-2", "L1", "alice", "approve"),
        action_token(b"t" * 32, "req-1", "L1", "alice", "approve"),
    }
    assert first not in others and len(others) == 5
    assert len(first) == 32 and first == first.lower() and first.isalnum()
    assert token_hash(first) == hashlib.sha256(first.encode()).hexdigest()


def test_reply_addresses_round_trip_and_reject_strangers() -> None:
    token = action_token(SECRET, "req-1", "L1", "alice", "reply")
    address = reply_address("approvals@example.test", token)
    assert address == f"approvals+{token}@example.test"
    assert token_from_address("approvals@example.test", address.upper()) == token
    assert token_from_address("approvals@example.test", f"approvals+{token}@evil.test") is None
    assert token_from_address("approvals@example.test", f"other+{token}@example.test") is None
    assert token_from_address("approvals@example.test", "approvals@example.test") is None
    assert token_from_address("approvals@example.test", "approvals+short@example.test") is None


def test_signature_is_hmac_of_timestamp_dot_body() -> None:
    body = b'{"id":"d1"}'
    expected = hmac.new(b"whsec", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("whsec", 1700000000, body) == f"sha256={expected}"
    assert verify("whsec", 1700000000, body, f"sha256={expected}")
    assert not verify("whsec", 1700000001, body, f"sha256={expected}")
    assert not verify("other", 1700000000, body, f"sha256={expected}")
    assert not verify("whsec", 1700000000, body + b" ", f"sha256={expected}")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://0.0.0.0/hook",
        "ftp://example.test/hook",
        "http://user:pass@example.test/hook",
        "not a url",
    ],
)
def test_targets_inside_the_network_are_refused(url: str) -> None:
    with pytest.raises(UnsafeTarget):
        check_target(url, allow_private=False)


def test_loopback_is_allowed_when_settings_say_so() -> None:
    check_target("http://127.0.0.1:9/hook", allow_private=True)
    with pytest.raises(UnsafeTarget):
        check_target("file:///etc/passwd", allow_private=True)
