"""Pydantic models shared by the API, workflows and activities: the wire contract."""
