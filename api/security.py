"""Passwords (argon2 via pwdlib) and tokens (pyjwt): issuing and strictly checking them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from pwdlib import PasswordHash

from config.settings import Settings

PASSWORDS = PasswordHash.recommended()
# Verified against when the e-mail is unknown, so a miss costs as much time as a hit.
_DUMMY_HASH = PASSWORDS.hash("not a real password")


def verify_password(password: str, hashed: str | None) -> bool:
    """True when the password matches; always spends one argon2 verification."""
    return PASSWORDS.verify(password, hashed or _DUMMY_HASH) and hashed is not None


def hash_password(password: str) -> str:
    """An argon2 hash of the password."""
    return PASSWORDS.hash(password)


# A password login of an MFA user yields a challenge; one who must enrol first gets an
# enrolment token that only the enrolment endpoints accept. Neither is an access token.
MFA_CHALLENGE = "mfa"
MFA_ENROLMENT = "mfa_enrolment"
MFA_TOKEN_SECONDS = 300


class InvalidToken(Exception):
    """A token that is missing, malformed, forged, expired or of the wrong kind."""


@dataclass(frozen=True)
class IssuedToken:
    """A signed token with its id and expiry."""

    token: str
    jti: str
    expires_at: datetime


class TokenService:
    """Issues HS256 tokens and checks them with the algorithm pinned; optional OIDC (RS256)."""

    def __init__(self, settings: Settings, key: bytes) -> None:
        """Tokens are signed with `key`; RS256 ones are checked against the OIDC JWKS if set."""
        self.settings = settings
        self.key = key
        self.jwks = jwt.PyJWKClient(settings.oidc_jwks_url) if settings.oidc_jwks_url else None

    def _issue(self, claims: dict[str, Any], lifetime: timedelta) -> IssuedToken:
        now = datetime.now(UTC)
        jti = uuid.uuid4().hex
        expires = now + lifetime
        payload = claims | {
            "iat": now,
            "exp": expires,
            "jti": jti,
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
        }
        return IssuedToken(jwt.encode(payload, self.key, algorithm="HS256"), jti, expires)

    def issue_access(self, user_id: str, org_id: str, roles: list[str]) -> IssuedToken:
        """A short-lived access token."""
        lifetime = timedelta(minutes=self.settings.access_token_minutes)
        claims = {"sub": user_id, "org": org_id, "roles": roles, "typ": "access"}
        return self._issue(claims, lifetime)

    def issue_refresh(self, user_id: str, family_id: str) -> IssuedToken:
        """A refresh token of a login's family; each is good for one rotation."""
        lifetime = timedelta(days=self.settings.refresh_token_days)
        return self._issue({"sub": user_id, "fam": family_id, "typ": "refresh"}, lifetime)

    def issue_mfa(self, user_id: str, kind: str) -> IssuedToken:
        """A 5-minute token of MFA_CHALLENGE (second login step) or MFA_ENROLMENT (enrol only)."""
        if kind not in (MFA_CHALLENGE, MFA_ENROLMENT):
            raise ValueError(f"not an MFA token kind: {kind!r}")
        return self._issue({"sub": user_id, "typ": kind}, timedelta(seconds=MFA_TOKEN_SECONDS))

    def decode_mfa(self, token: str, kind: str) -> dict[str, Any]:
        """The claims of a valid MFA challenge or enrolment token."""
        if kind not in (MFA_CHALLENGE, MFA_ENROLMENT):
            raise ValueError(f"not an MFA token kind: {kind!r}")
        return self._decode_own(token, kind)

    def _decode_own(self, token: str, kind: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.key,
                algorithms=["HS256"],
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        if claims.get("typ") != kind:
            raise InvalidToken(f"not an {kind} token")
        return claims

    def _decode_oidc(self, token: str) -> dict[str, Any]:
        assert self.jwks is not None
        try:
            signing_key = self.jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                signing_key.key,
                algorithms=["RS256"],
                audience=self.settings.oidc_audience or self.settings.jwt_audience,
                issuer=self.settings.oidc_issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        return claims

    def decode_access(self, token: str) -> dict[str, Any]:
        """The claims of a valid access token (ours, or an OIDC one when configured)."""
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        if algorithm == "HS256":
            return self._decode_own(token, "access")
        if algorithm == "RS256" and self.jwks is not None:
            return self._decode_oidc(token)
        raise InvalidToken(f"tokens signed with {algorithm!r} are not accepted")

    def decode_refresh(self, token: str) -> dict[str, Any]:
        """The claims of a valid refresh token."""
        return self._decode_own(token, "refresh")
