"""The API's MFA contract: the login challenge, TOTP enrolment, recovery codes, org settings."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator

from schemas.auth import TokenPair

_CODE = Field(
    default=None, min_length=1, max_length=20, description="The 6 digits the app shows now."
)
_RECOVERY = Field(
    default=None, min_length=1, max_length=64, description="One unused recovery code."
)
_REASON = Field(default=None, max_length=2000, description="Why, for the security audit trail.")


class MfaChallenge(BaseModel):
    """A right password of a user with MFA (or one who must enrol): no tokens yet."""

    mfa_required: Literal[True] = True
    mfa_enrollment_required: bool = Field(
        default=False,
        description=(
            "The org requires MFA for this user's role and they have none: enrol with "
            "`enrollment_token` as the bearer of POST /me/mfa/totp and /me/mfa/totp/confirm."
        ),
    )
    challenge: str | None = Field(
        default=None, description="Send it with a code or a recovery code to POST /auth/mfa."
    )
    enrollment_token: str | None = Field(
        default=None, description="Accepted only by the two enrolment endpoints."
    )
    expires_in: int = Field(description="Seconds the challenge or enrolment token is valid.")


class SecondFactorProof(BaseModel):
    """Either a current TOTP code or an unused recovery code."""

    code: str | None = _CODE
    recovery_code: str | None = _RECOVERY

    @model_validator(mode="after")
    def _one_factor(self) -> Self:
        if (self.code is None) == (self.recovery_code is None):
            raise ValueError("give either `code` or `recovery_code`")
        return self


class MfaLoginInput(SecondFactorProof):
    """The second login step: the challenge and either a TOTP code or a recovery code."""

    challenge: str = Field(min_length=1, max_length=4000)


class TotpEnrolment(BaseModel):
    """A pending TOTP secret: put it in an authenticator app, then confirm a code."""

    secret: str = Field(description="Base32; shown only in this response.")
    otpauth_uri: str
    qr_svg: str = Field(description="The otpauth URI as a QR code: data:image/svg+xml;base64,...")


class TotpCodeInput(BaseModel):
    """A current TOTP code."""

    code: str = Field(min_length=1, max_length=20)


class MfaConfirmed(BaseModel):
    """MFA is on: the recovery codes (shown only now) and, after an enrolment login, tokens."""

    recovery_codes: list[str]
    tokens: TokenPair | None = Field(
        default=None, description="Present when enrolment was done with an enrollment_token."
    )


class RecoveryCodes(BaseModel):
    """A fresh set of recovery codes; the old ones no longer work."""

    recovery_codes: list[str]


class MfaDisableInput(SecondFactorProof):
    """Proof of the second factor (a code or a recovery code) to turn MFA off."""

    reason: str | None = _REASON


class OrgSettings(BaseModel):
    """The org's security settings."""

    mfa_required: bool = Field(description="ADMIN and MANAGEMENT users must use MFA.")
    users_to_enrol: int = Field(
        description="Active ADMIN and MANAGEMENT users without MFA, enrolled at their next login."
    )


class OrgSettingsUpdate(BaseModel):
    """Changes to the org's settings; fields left out stay as they are."""

    mfa_required: bool | None = None
    reason: str | None = _REASON
