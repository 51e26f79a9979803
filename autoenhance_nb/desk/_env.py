"""The settings the desk command hands to each Voila kernel, as environment variables
(the page reads them; visitors never choose them)."""

from __future__ import annotations

__all__ = ["ENV_EXPORT_DIR", "ENV_SYNC_LIMIT", "DEFAULT_SYNC_LIMIT"]

#: The folder exports and downloads go into (absolute; made by the desk command).
ENV_EXPORT_DIR = "AUTOENHANCE_DESK_EXPORT_DIR"
#: How many of the account's newest orders each visit starts with.
ENV_SYNC_LIMIT = "AUTOENHANCE_DESK_SYNC_LIMIT"
DEFAULT_SYNC_LIMIT = 100
