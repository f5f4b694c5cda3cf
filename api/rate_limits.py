"""Rate limits on logins, token refreshes and writes: per IP, per e-mail and per user.

Counters live in the SQL database or in Redis (never only in this process), so every API
replica counts the same hits. When the counter store is down the limiter lets requests
through (SIGNOFF_RATE_LIMIT_FAIL_OPEN, logged as a warning once a minute) or answers 503.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.concurrency import run_in_threadpool

from api.deps import ClientIp, ContextDep
from api.problems import Problem
from api.security import InvalidToken, TokenService
from config.settings import Settings
from store.rate_limit_counters import CounterStore, CounterStoreDown, RedisCounters, SqlCounters

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Routes that hand out tokens count as logins or refreshes, not as writes.
LOGIN_ROUTES = ("/api/v1/auth/token", "/api/v1/auth/mfa")
REFRESH_ROUTE = "/api/v1/auth/refresh"
WARN_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class Limit:
    """At most `allowed` hits per window of one kind (`name`) by one caller (`who`)."""

    name: str
    who: str
    allowed: int
    what: str

    @property
    def key(self) -> str:
        """The counter's key."""
        return f"{self.name}:{self.who}"


class RateLimiter:
    """Counts hits against limits in a shared store and refuses those over a limit."""

    def __init__(self, settings: Settings, store: CounterStore) -> None:
        """Limits from `settings`, counters in `store`."""
        self.settings = settings
        self.store = store
        self._warned_at: float | None = None

    def login_by_ip(self, ip: str | None) -> Limit:
        """Login attempts (password or MFA step) from one address."""
        allowed = self.settings.rate_limit_login_per_ip
        return Limit("login-ip", ip or "unknown", allowed, "login attempts from this address")

    def login_by_email(self, email: str) -> Limit:
        """Login attempts naming one e-mail address, from anywhere."""
        allowed = self.settings.rate_limit_login_per_email
        return Limit("login-email", email.strip().lower(), allowed, "login attempts for this user")

    def refresh_by_ip(self, ip: str | None) -> Limit:
        """Token refreshes from one address."""
        allowed = self.settings.rate_limit_refresh_per_ip
        return Limit("refresh-ip", ip or "unknown", allowed, "token refreshes from this address")

    def writes_by_ip(self, ip: str | None) -> Limit:
        """Changes (POST, PUT, PATCH, DELETE) from one address."""
        allowed = self.settings.rate_limit_writes_per_ip
        return Limit("write-ip", ip or "unknown", allowed, "changes from this address")

    def writes_by_user(self, user: str) -> Limit:
        """Changes by one authenticated user, from anywhere."""
        allowed = self.settings.rate_limit_writes_per_user
        return Limit("write-user", user, allowed, "changes by this user")

    async def enforce(self, limits: Sequence[Limit]) -> None:
        """Count one hit on each limit; 429 with Retry-After when any is exceeded."""
        if not self.settings.rate_limit_enabled or not limits:
            return
        window = self.settings.rate_limit_window_seconds
        now = time.time()
        window_start = int(now // window) * window
        try:
            counts = await self.store.hit([limit.key for limit in limits], window_start, window)
        except CounterStoreDown as down:
            self._store_down(down)
            return
        for limit, count in zip(limits, counts, strict=True):
            if count > limit.allowed:
                wait = max(1, math.ceil(window_start + window - now))
                raise Problem(
                    429,
                    f"too many {limit.what}: at most {limit.allowed} every {window} seconds; "
                    f"try again in {wait} seconds",
                    headers={"Retry-After": str(wait)},
                )

    def _store_down(self, down: CounterStoreDown) -> None:
        if not self.settings.rate_limit_fail_open:
            log.error("rate limit counters unreachable (%s): refusing the request", down)
            raise Problem(
                503,
                "the rate limiter cannot count right now; try again shortly",
                headers={"Retry-After": "5"},
            )
        # Failing open is deliberate (SIGNOFF_RATE_LIMIT_FAIL_OPEN): say so, but not per request.
        now = time.monotonic()
        if self._warned_at is None or now - self._warned_at >= WARN_EVERY_SECONDS:
            self._warned_at = now
            log.warning(
                "rate limit counters unreachable (%s): requests pass unlimited "
                "(SIGNOFF_RATE_LIMIT_FAIL_OPEN=true)",
                down,
            )

    async def close(self) -> None:
        """Release the store's connections."""
        await self.store.close()


def make_rate_limiter(settings: Settings, engine: AsyncEngine) -> RateLimiter:
    """A limiter counting in Redis when SIGNOFF_RATE_LIMIT_REDIS_URL is set, else in SQL."""
    url = settings.rate_limit_redis_url
    store: CounterStore = (
        RedisCounters(url.get_secret_value()) if url is not None else SqlCounters(engine)
    )
    return RateLimiter(settings, store)


def get_rate_limiter(request: Request) -> RateLimiter:
    """The app's limiter."""
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]


async def _token_subject(tokens: TokenService, request: Request) -> str | None:
    # Only a valid token names a user: a forged `sub` must not spend someone else's budget.
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        if tokens.jwks is None:
            claims = tokens.decode_access(token)
        else:  # the IdP's keys may need fetching: blocking I/O
            claims = await run_in_threadpool(tokens.decode_access, token)
    except InvalidToken:
        return None
    return str(claims.get("sub", "")) or None


async def limit_requests(
    request: Request, context: ContextDep, limiter: RateLimiterDep, ip: ClientIp
) -> None:
    """Per route: logins per IP, refreshes per IP, other writes per IP and per user."""
    if request.method not in WRITE_METHODS or not context.settings.rate_limit_enabled:
        return
    path = request.url.path
    if path in LOGIN_ROUTES:
        await limiter.enforce([limiter.login_by_ip(ip)])
    elif path == REFRESH_ROUTE:
        await limiter.enforce([limiter.refresh_by_ip(ip)])
    else:
        limits = [limiter.writes_by_ip(ip)]
        user = await _token_subject(context.tokens, request)
        if user is not None:
            limits.append(limiter.writes_by_user(user))
        await limiter.enforce(limits)
