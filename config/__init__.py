"""Signoff's configuration: one settings object read from SIGNOFF_* variables."""
