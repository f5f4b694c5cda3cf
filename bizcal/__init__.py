"""The business calendar: pure, deterministic business-time arithmetic."""
