"""Operators in the Temporal Web UI, driven in headless Chromium."""
