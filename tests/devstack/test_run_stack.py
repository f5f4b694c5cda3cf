"""`signoff dev`, the README's run command, as a new user runs it; and the attribute lists."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from devstack.temporal import installed_binary
from schemas import search_attributes

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for(path: Path, text: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        content = path.read_text() if path.exists() else ""
        if text in content:
            return content
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared:\n{path.read_text()}")


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    signoff = installed_binary("signoff")
    assert signoff
    return subprocess.run(
        [signoff, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_run_command_starts_everything_and_restarts_on_the_same_data(tmp_path: Path) -> None:
    grpc, ui = _free_port(), _free_port()
    env = os.environ | {
        "SIGNOFF_DATA_DIR": str(tmp_path / "data"),
        "SIGNOFF_TEMPORAL_ADDRESS": f"127.0.0.1:{grpc}",
        "SIGNOFF_TEMPORAL_UI_PORT": str(ui),
        "SIGNOFF_TASK_QUEUE": "signoff-approvals",
    }
    env.pop("SIGNOFF_DATABASE_URL", None)
    signoff = installed_binary("signoff")
    assert signoff
    log = tmp_path / "dev.log"
    stack = subprocess.Popen(
        [signoff, "dev"], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    try:
        banner = _wait_for(log, "Signoff is running", 60)
        assert f"http://127.0.0.1:{ui}/namespaces/default/workflows" in banner
        assert "acme-rita" in banner and "signoff request start" in banner
        with urllib.request.urlopen(f"http://127.0.0.1:{ui}/", timeout=10) as page:
            assert page.status == 200
        _wait_for(log, "worker polling task queue", 30)
        started = _cli(
            env,
            "request",
            "start",
            "--template",
            "leave",
            "--requester",
            "acme-rita",
            "--title",
            "Two days off",
        )
        assert started.returncode == 0, started.stderr
        request_id = re.search(r'"request_id": "([^"]+)"', started.stdout)
        assert request_id
        # A second run command finds this server answering and reuses it.
        again = _cli(env, "temporal", "start", "--headless")
        assert "already answers" in again.stdout
    finally:
        stack.send_signal(signal.SIGINT)
        assert stack.wait(timeout=60) == 0
    assert not _port_open(grpc), "stopping the run command stops the Temporal it started"

    # Started again on the same data folder, the request is still there.
    stack = subprocess.Popen(
        [signoff, "dev"], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    try:
        _wait_for(log, "worker polling task queue", 60)
        shown = _cli(env, "request", "show", request_id.group(1))
        assert shown.returncode == 0, shown.stderr
        assert '"waiting_on": [\n    "acme-alice"\n  ]' in shown.stdout
    finally:
        stack.send_signal(signal.SIGTERM)
        assert stack.wait(timeout=60) == 0


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_compose_registers_the_same_search_attributes_as_the_code() -> None:
    script = (ROOT / "temporal-dev" / "register-search-attributes.sh").read_text()
    registered = re.findall(r"^\s+(Signoff\w+)=(\w+)", script, flags=re.MULTILINE)
    assert registered == search_attributes.cli_registrations()
    compose = (ROOT / "temporal-dev" / "compose.yaml").read_text()
    assert "register-search-attributes.sh" in compose
