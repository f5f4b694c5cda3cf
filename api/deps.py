"""FastAPI dependencies: the app's context, a DB session, the caller, role checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from api.notification_hub import NotificationHub
from api.problems import Problem, forbidden
from api.security import InvalidToken, TokenService
from config.settings import Settings
from store.objects import LocalObjectStore, S3ObjectStore
from store.secret_box import SecretBox
from store.tables import User


@dataclass
class AppContext:
    """What the lifespan builds once and every request shares."""

    settings: Settings
    engine: AsyncEngine
    temporal: Client
    tokens: TokenService
    objects: LocalObjectStore | S3ObjectStore
    hub: NotificationHub
    secret_box: SecretBox


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user_id: str
    org_id: str
    email: str
    name: str
    roles: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        """Holds ADMIN."""
        return "ADMIN" in self.roles

    @property
    def is_manager(self) -> bool:
        """Holds MANAGEMENT or ADMIN: may override requests."""
        return "MANAGEMENT" in self.roles or self.is_admin


def get_context(request: Request) -> AppContext:
    """The app's shared context."""
    context: AppContext = request.app.state.context
    return context


ContextDep = Annotated[AppContext, Depends(get_context)]


async def get_session(context: ContextDep) -> AsyncIterator[AsyncSession]:
    """A database session for one request."""
    async with AsyncSession(context.engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def client_ip(request: Request) -> str | None:
    """The caller's address (uvicorn takes X-Forwarded-For from trusted proxies only)."""
    return request.client.host if request.client else None


ClientIp = Annotated[str | None, Depends(client_ip)]

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def _unauthorized(detail: str) -> Problem:
    return Problem(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def current_principal(
    context: ContextDep, session: SessionDep, token: Annotated[str | None, Depends(_bearer)]
) -> Principal:
    """The caller from a valid bearer token; 401 otherwise."""
    if not token:
        raise _unauthorized("a bearer token is required")
    try:
        if context.tokens.jwks is None:
            claims = context.tokens.decode_access(token)
        else:  # fetching the IdP's keys is blocking I/O: keep it off the event loop
            claims = await run_in_threadpool(context.tokens.decode_access, token)
    except InvalidToken as exc:
        raise _unauthorized(f"invalid token: {exc}") from None
    user = await session.get(User, str(claims["sub"]))
    if user is None and "email" in claims:  # an OIDC token names the user by e-mail
        if claims.get("email_verified") is False:
            raise _unauthorized("the token's e-mail address is not verified")
        email = str(claims["email"]).strip().lower()
        user = (await session.exec(select(User).where(col(User.email) == email))).first()
    if user is None or not user.active:
        raise _unauthorized("the token's user does not exist or is inactive")
    if "org" in claims and claims["org"] != user.org_id:
        raise _unauthorized("the token's org does not match its user")
    return Principal(user.id, user.org_id, user.email, user.name, tuple(user.roles))


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that lets through only callers holding one of `roles`."""

    def check(user: CurrentUser) -> Principal:
        if not set(roles) & set(user.roles):
            raise forbidden(f"this needs the role {' or '.join(roles)}")
        return user

    return check


AdminUser = Annotated[Principal, Depends(require_roles("ADMIN"))]
ManagerUser = Annotated[Principal, Depends(require_roles("MANAGEMENT", "ADMIN"))]
