"""The second factor's codes: TOTP secrets, their QR code, checking a code, recovery codes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass

import pyotp
import segno

STEP_SECONDS = 30
RECOVERY_CODE_COUNT = 10
# Crockford's base32: no i, l, o or u, so a code read aloud or retyped survives.
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_RECOVERY_CHARS = 16  # 80 random bits: SHA-256 without a salt is enough for these
_CROCKFORD_ALIASES = str.maketrans({"i": "1", "l": "1", "o": "0"})


@dataclass(frozen=True)
class TotpProvisioning:
    """What an authenticator app needs: the secret, its otpauth:// URI and that URI as a QR."""

    secret: str
    otpauth_uri: str
    qr_svg: str


def new_totp_secret() -> str:
    """A random 160-bit base32 TOTP secret."""
    return pyotp.random_base32(32)


def provisioning(secret: str, account: str, issuer: str) -> TotpProvisioning:
    """The otpauth:// URI of the secret and a QR code of it as an SVG data URI."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, border=4)
    svg = base64.b64encode(buffer.getvalue()).decode()
    return TotpProvisioning(secret, uri, f"data:image/svg+xml;base64,{svg}")


def matching_step(secret: str, code: str, *, after: int | None, now: float) -> int | None:
    """The time step (now, or one either side) whose code this is, if later than `after`."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now // STEP_SECONDS)
    for step in (current - 1, current, current + 1):
        if after is not None and step <= after:
            continue  # this step's code was accepted already: a replay
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Fresh recovery codes, shown once, e.g. `7k2m-q9xd-4h0a-c8vt`."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(_RECOVERY_CHARS))
        codes.append("-".join(raw[i : i + 4] for i in range(0, _RECOVERY_CHARS, 4)))
    return codes


def recovery_code_hash(code: str) -> str:
    """The stored form of a recovery code; spacing, dashes and case do not matter."""
    normal = "".join(code.lower().split()).replace("-", "").translate(_CROCKFORD_ALIASES)
    return hashlib.sha256(normal.encode()).hexdigest()
