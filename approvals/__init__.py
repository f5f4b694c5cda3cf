"""The approval request state machine: pure transitions over RequestState, no Temporal, no I/O."""
