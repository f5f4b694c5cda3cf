"""Notification content and safety: e-mail templates, action tokens, webhook signing, replies."""
