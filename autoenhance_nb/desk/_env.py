"""The settings the desk command hands to each Voila kernel, as environment variables
(the page reads them; visitors never choose them), and the one it hands to the server."""

from __future__ import annotations

__all__ = [
    "ENV_EXPORT_DIR",
    "ENV_SYNC_LIMIT",
    "DEFAULT_SYNC_LIMIT",
    "ENV_MAX_DROP_MB",
    "DEFAULT_MAX_DROP_MB",
    "ENV_SERVER",
    "ENV_EVENTS",
]

#: The folder exports and downloads go into (absolute; made by the desk command).
ENV_EXPORT_DIR = "AUTOENHANCE_DESK_EXPORT_DIR"
#: How many of the account's newest orders each visit starts with.
ENV_SYNC_LIMIT = "AUTOENHANCE_DESK_SYNC_LIMIT"
DEFAULT_SYNC_LIMIT = 100
#: The most photo megabytes a visit's kernel holds at once (what a visitor drops).
ENV_MAX_DROP_MB = "AUTOENHANCE_DESK_MAX_DROP_MB"
DEFAULT_MAX_DROP_MB = 1000
#: The guards' settings for ``_server.py`` (JSON; it removes the variable before Voila
#: starts, so kernels never see the token).
ENV_SERVER = "AUTOENHANCE_DESK_SERVER"
#: The sqlite event log the server appends the webhooks it receives to, and each visit's
#: kernel follows (set only with ``--webhook-path``).
ENV_EVENTS = "AUTOENHANCE_DESK_EVENTS"
