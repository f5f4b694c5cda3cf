"""The baseline of bench/approval_throughput.py: a bare workflow that waits for two signals."""

from __future__ import annotations

from temporalio import workflow


@workflow.defn(name="BareTwoSignalWorkflow")
class BareTwoSignalWorkflow:
    """Does nothing but wait for two approvals: what Temporal alone costs."""

    def __init__(self) -> None:
        """No approvals yet."""
        self.approvals = 0

    @workflow.run
    async def run(self) -> int:
        """Finish after the second approval."""
        await workflow.wait_condition(lambda: self.approvals >= 2)
        return self.approvals

    @workflow.signal
    def approve(self) -> None:
        """One approval."""
        self.approvals += 1
