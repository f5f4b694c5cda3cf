"""CPU time and memory of processes, from /proc (Linux): what bench/worker_scale.py reports."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from VmRSS in /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy since boot (not idle, not iowait)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / TICKS


@dataclass
class CpuMeter:
    """CPU used by named processes (and by the whole machine) between start and stop."""

    pids: dict[str, int]
    started: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0

    def __enter__(self) -> CpuMeter:
        """Read every counter now."""
        self.started = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self.started["machine"] = machine_busy_seconds()
        self.wall = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        """Read them again."""
        self.wall = time.perf_counter() - self.wall
        used = {name: cpu_seconds(pid) - self.started[name] for name, pid in self.pids.items()}
        used["machine"] = machine_busy_seconds() - self.started["machine"]
        self.used = used

    def per_item(self, count: int) -> dict[str, float]:
        """CPU milliseconds each process of ours spent per item of work."""
        return {
            name: round(1000 * seconds / count, 1)
            for name, seconds in self.used.items()
            if name != "machine"
        }

    def cores(self) -> dict[str, float]:
        """Average cores each process kept busy; `others` is the rest of the machine's load."""
        cores = {name: round(seconds / self.wall, 2) for name, seconds in self.used.items()}
        ours = sum(v for k, v in self.used.items() if k != "machine")
        cores["others"] = round(max(0.0, self.used["machine"] - ours) / self.wall, 2)
        return cores


async def wait_idle(pid: int, quiet_seconds: float = 3.0, limit: float = 300.0) -> None:
    """Until the process used almost no CPU for `quiet_seconds` (its backlog is done)."""
    deadline = time.monotonic() + limit
    quiet_since = time.monotonic()
    last = cpu_seconds(pid)
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        now = cpu_seconds(pid)
        if now - last > 0.05:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_seconds:
            return
        last = now
