"""The object store for documents and raw mails: a local folder by default, S3 when configured.

Both hand out short-lived signed URLs: S3 presigned URLs, or HMAC-signed URLs that the API
serves itself for the local folder.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlencode

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from config.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class ObjectMissing(LookupError):
    """No object under that key."""


class ObjectStore(Protocol):
    """Where binaries live; SQL keeps only their keys."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store bytes under key (overwriting the same key is harmless: keys are unique ids)."""

    def get(self, key: str) -> bytes:
        """The bytes under key, or ObjectMissing."""

    def signed_url(self, key: str, filename: str, content_type: str) -> str:
        """A URL that serves the object for a short while, to anyone holding it."""

    def check(self) -> None:
        """Raise when the store cannot be reached (readiness)."""


def _safe_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid object key {key!r}")
    return key


class LocalObjectStore:
    """Objects as files under a folder; URLs signed with HMAC and served by the API."""

    def __init__(self, root: Path, secret: bytes, base_url: str, ttl_seconds: int) -> None:
        """Files under `root`; URLs under `base_url`/files/."""
        self.root = root.resolve()
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        self.ttl = ttl_seconds

    def _path(self, key: str) -> Path:
        return self.root / _safe_key(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write atomically: a reader never sees half a file."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        partial.replace(path)

    def get(self, key: str) -> bytes:
        """The file's bytes."""
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(key) from None

    def signature(self, key: str, expires: int, filename: str, content_type: str) -> str:
        """HMAC-SHA256 over everything the URL promises."""
        message = f"{key}\n{expires}\n{filename}\n{content_type}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def signed_url(self, key: str, filename: str, content_type: str) -> str:
        """A /files/ URL valid for the configured TTL."""
        expires = int(time.time()) + self.ttl
        query = urlencode(
            {
                "expires": expires,
                "filename": filename,
                "type": content_type,
                "sig": self.signature(key, expires, filename, content_type),
            }
        )
        return f"{self.base_url}/files/{quote(_safe_key(key))}?{query}"

    def verify(self, key: str, expires: int, filename: str, content_type: str, sig: str) -> bool:
        """True for an untampered URL that has not expired."""
        if expires < time.time():
            return False
        expected = self.signature(key, expires, filename, content_type)
        return hmac.compare_digest(expected, sig)

    def check(self) -> None:
        """The folder exists and is writable."""
        self.root.mkdir(parents=True, exist_ok=True)
        probe = self.root / ".ready"
        probe.write_bytes(b"")
        probe.unlink()


class S3ObjectStore:
    """Objects in an S3 bucket (any S3-compatible server) through boto3."""

    def __init__(self, client: S3Client, bucket: str, ttl_seconds: int) -> None:
        """Use this client and bucket."""
        self.client = client
        self.bucket = bucket
        self.ttl = ttl_seconds

    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist yet."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Upload the bytes."""
        self.client.put_object(
            Bucket=self.bucket, Key=_safe_key(key), Body=data, ContentType=content_type
        )

    def get(self, key: str) -> bytes:
        """Download the bytes."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=_safe_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectMissing(key) from None
            raise
        body: bytes = response["Body"].read()
        return body

    def signed_url(self, key: str, filename: str, content_type: str) -> str:
        """A presigned GET URL valid for the configured TTL."""
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": _safe_key(key),
            "ResponseContentType": content_type,
            "ResponseContentDisposition": f"attachment; filename*=UTF-8''{quote(filename)}",
        }
        url: str = self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self.ttl
        )
        return url

    def check(self) -> None:
        """The bucket answers."""
        self.client.head_bucket(Bucket=self.bucket)


def make_object_store(settings: Settings, secret: bytes) -> LocalObjectStore | S3ObjectStore:
    """S3 when a bucket is configured, else the local folder."""
    if settings.s3_bucket:
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key,
            aws_secret_access_key=(
                settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None
            ),
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
        return S3ObjectStore(client, settings.s3_bucket, settings.signed_url_seconds)
    return LocalObjectStore(
        settings.resolved_objects_dir(),
        secret,
        settings.resolved_public_url(),
        settings.signed_url_seconds,
    )
