"""Running a worker until SIGINT/SIGTERM, and stopping it within a deadline.

A soak once saw the SDK never finish a worker's shutdown after SIGTERM (its core had logged
"Extra buffered run should not have produced an activation"): the process polled nothing and
held the deploy for minutes. Nothing is lost by leaving then, since every workflow's state is in
Temporal and its tasks time out to other workers, so past the deadline the process says why and
exits with EXIT_STOP_STUCK instead of waiting for an orchestrator's SIGKILL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Protocol

log = logging.getLogger(__name__)

EXIT_STOP_STUCK = 3
# Past the graceful timeout, the time the SDK gets to report itself stopped. The helm chart's
# grace period (gracefulShutdownSeconds + 15 s) is longer, so the log says why before a SIGKILL.
STOP_MARGIN_SECONDS = 10.0


class RunnableWorker(Protocol):
    """What serving needs of temporalio.worker.Worker."""

    async def run(self) -> None:
        """Poll until shut down."""

    async def shutdown(self) -> None:
        """Stop polling, let running activities finish (up to the graceful timeout), stop."""


async def serve_until_signalled(worker: RunnableWorker, stop_within: float) -> None:
    """Run the worker until SIGINT/SIGTERM, then stop it; exit the process if stopping hangs."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    running = asyncio.create_task(worker.run())
    signalled = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({running, signalled}, return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            running.result()  # the worker failed by itself: its error ends the process
            return
        log.info("shutting down: finishing running activities")
        try:
            await asyncio.wait_for(_stopped(worker, running), stop_within)
        except TimeoutError:
            log.error(
                "the worker did not stop within %.0f s of the signal; exiting with code %d "
                "(its workflow tasks time out and go to other workers: nothing is lost)",
                stop_within,
                EXIT_STOP_STUCK,
            )
            logging.shutdown()
            os._exit(EXIT_STOP_STUCK)
    finally:
        signalled.cancel()
        for sig in signals:
            loop.remove_signal_handler(sig)


async def _stopped(worker: RunnableWorker, running: asyncio.Task[None]) -> None:
    """Shut the worker down and wait for its run to return."""
    await worker.shutdown()
    await running
