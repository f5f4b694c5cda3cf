"""Connecting to Temporal the same way everywhere: pydantic payloads, TLS, API key."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from config.settings import Settings


async def connect_temporal(settings: Settings, *, lazy: bool = False) -> Client:
    """A client for the configured namespace with Signoff's data converter.

    A lazy client connects on first use, so a process can start while Temporal is down.
    """
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        tls=settings.temporal_tls or bool(api_key),
        api_key=api_key,
        lazy=lazy,
    )
