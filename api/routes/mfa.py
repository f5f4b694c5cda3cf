"""The caller's own MFA: TOTP enrolment, recovery codes, turning it off."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.security import OAuth2PasswordBearer

from api.deps import ClientIp, ContextDep, CurrentUser, SessionDep, current_principal
from api.mfa_codes import matching_step, new_totp_secret, provisioning
from api.problems import Problem, conflict
from api.routes.auth import issue_token_pair, record_login
from api.second_factor import (
    clear_mfa,
    mfa_mandatory,
    replace_recovery_codes,
    verify_second_factor,
)
from api.security import MFA_ENROLMENT, InvalidToken
from schemas.mfa import (
    MfaConfirmed,
    MfaDisableInput,
    RecoveryCodes,
    SecondFactorProof,
    TotpCodeInput,
    TotpEnrolment,
)
from store.secret_columns import PENDING_TOTP_SECRET, TOTP_SECRET
from store.security_events import record_user_event
from store.tables import Org, User

router = APIRouter(tags=["mfa"])

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
# Secrets and recovery codes must not linger in caches or proxies.
_NO_STORE = {"Cache-Control": "no-store"}
# How the endpoints that ask for a second factor refuse a wrong one.
_REFUSED: dict[int | str, dict[str, Any]] = {
    403: {"description": "Wrong, replayed or used code"},
    429: {"description": "Locked"},
}


@dataclass(frozen=True)
class Enrolling:
    """Who enrols, and whether with an enrolment token from the login (not an access token)."""

    user: User
    by_enrolment_token: bool


async def enrolling_user(
    context: ContextDep, session: SessionDep, token: Annotated[str | None, Depends(_bearer)]
) -> Enrolling:
    """The caller by access token, or by the enrolment token a login handed out."""
    if token:
        try:
            claims = context.tokens.decode_mfa(token, MFA_ENROLMENT)
        except InvalidToken:
            pass  # not an enrolment token: perhaps an access token
        else:
            user = await session.get(User, str(claims["sub"]))
            if user is None or not user.active:
                raise Problem(401, "the token's user does not exist or is inactive")
            return Enrolling(user, by_enrolment_token=True)
    principal = await current_principal(context, session, token)
    user = await session.get(User, principal.user_id)
    if user is None:
        raise Problem(401, "the token's user does not exist or is inactive")
    return Enrolling(user, by_enrolment_token=False)


EnrollingUser = Annotated[Enrolling, Depends(enrolling_user)]


async def _own_mfa_row(session: SessionDep, caller: CurrentUser, when_off: str) -> User:
    """The caller's row; a 409 saying `when_off` if their MFA is off."""
    user = await session.get(User, caller.user_id)
    if user is None:
        raise Problem(401, "the token's user does not exist or is inactive")
    if not user.mfa_enabled:
        raise conflict(when_off)
    return user


@router.post(
    "/me/mfa/totp",
    response_model=TotpEnrolment,
    responses={409: {"description": "MFA is on already"}},
)
async def start_totp(
    enrolling: EnrollingUser, context: ContextDep, session: SessionDep, response: Response
) -> TotpEnrolment:
    """Start TOTP enrolment: a new secret (shown only here), its otpauth URI and QR code.

    Accepts an access token or a login's `enrollment_token`. Starting again replaces a
    secret not yet confirmed."""
    user = enrolling.user
    if user.mfa_enabled:
        raise conflict("MFA is on already; turn it off first to enrol a new device")
    secret = new_totp_secret()
    user.totp_pending_secret = context.secret_box.encrypt(
        secret, context=PENDING_TOTP_SECRET.context(user.id)
    )
    session.add(user)
    await session.commit()
    response.headers.update(_NO_STORE)
    shown = provisioning(secret, user.email, context.settings.mfa_issuer)
    return TotpEnrolment(secret=shown.secret, otpauth_uri=shown.otpauth_uri, qr_svg=shown.qr_svg)


@router.post(
    "/me/mfa/totp/confirm",
    response_model=MfaConfirmed,
    responses={
        409: {"description": "No enrolment started, or MFA is on already"},
        422: {"description": "The code does not match the new secret"},
    },
)
async def confirm_totp(
    body: TotpCodeInput,
    enrolling: EnrollingUser,
    context: ContextDep,
    session: SessionDep,
    ip: ClientIp,
    response: Response,
) -> MfaConfirmed:
    """Turn MFA on with a code of the new secret: 10 recovery codes, shown only now.

    With a login's `enrollment_token` the answer also holds the login's tokens."""
    user = enrolling.user
    if user.mfa_enabled:
        raise conflict("MFA is on already")
    if user.totp_pending_secret is None:
        raise conflict("no enrolment is waiting: POST /api/v1/me/mfa/totp first")
    secret = context.secret_box.decrypt(
        user.totp_pending_secret, context=PENDING_TOTP_SECRET.context(user.id)
    )
    step = matching_step(secret, body.code, after=None, now=datetime.now(UTC).timestamp())
    if step is None:
        raise Problem(
            422, "the code does not match the new secret; check the device's clock and retry"
        )
    user.totp_secret = context.secret_box.encrypt(secret, context=TOTP_SECRET.context(user.id))
    user.totp_pending_secret = None
    user.mfa_enabled = True
    user.totp_last_step = step  # the confirming code cannot log in as well
    session.add(user)
    codes = await replace_recovery_codes(session, user.id)
    via = "enrollment_token" if enrolling.by_enrolment_token else "session"
    enrolled = {"method": "totp", "via": via}
    record_user_event(session, user, "mfa_enrolled", ip=ip, detail=enrolled)
    response.headers.update(_NO_STORE)
    if not enrolling.by_enrolment_token:
        await session.commit()
        return MfaConfirmed(recovery_codes=codes)
    record_login(session, user, ip, "enrolment")
    tokens = await issue_token_pair(context, session, user, uuid.uuid4().hex)
    return MfaConfirmed(recovery_codes=codes, tokens=tokens)


@router.post(
    "/me/mfa/recovery-codes",
    response_model=RecoveryCodes,
    responses={**_REFUSED, 409: {"description": "MFA is off"}},
)
async def regenerate_recovery_codes(
    body: TotpCodeInput,
    caller: CurrentUser,
    context: ContextDep,
    session: SessionDep,
    ip: ClientIp,
    response: Response,
) -> RecoveryCodes:
    """New recovery codes for a current TOTP code; the old ones stop working."""
    user = await _own_mfa_row(session, caller, "MFA is off; there are no recovery codes")
    totp_only = SecondFactorProof(code=body.code)
    await verify_second_factor(
        session, context, user, totp_only, ip=ip, purpose="recovery_codes", refusal_status=403
    )
    codes = await replace_recovery_codes(session, user.id)
    changed = {"what": "recovery_codes"}
    record_user_event(session, user, "secret_changed", ip=ip, detail=changed)
    await session.commit()
    response.headers.update(_NO_STORE)
    return RecoveryCodes(recovery_codes=codes)


@router.delete(
    "/me/mfa",
    status_code=204,
    responses={
        **_REFUSED,
        409: {"description": "MFA is off, or the org requires it for the caller's role"},
    },
)
async def disable_mfa(
    body: MfaDisableInput,
    caller: CurrentUser,
    context: ContextDep,
    session: SessionDep,
    ip: ClientIp,
) -> Response:
    """Turn MFA off with a current code or a recovery code (not where the org requires it)."""
    user = await _own_mfa_row(session, caller, "MFA is off already")
    if mfa_mandatory(await session.get(Org, user.org_id), user.roles):
        raise conflict("your org requires MFA for ADMIN and MANAGEMENT; it stays on")
    method = await verify_second_factor(
        session, context, user, body, ip=ip, purpose="disable", refusal_status=403
    )
    await clear_mfa(session, user)
    proved = {"proved_by": method}
    record_user_event(session, user, "mfa_disabled", ip=ip, reason=body.reason, detail=proved)
    await session.commit()
    return Response(status_code=204)
