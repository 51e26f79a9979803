"""A local, stateful emulator of the Autoenhance v3 API (the "sandbox").

    with Sandbox(processing_seconds=0) as sb:
        requests.post(sb.url + "/v3/orders", json={"name": "Kitchen"},
                      headers={"x-api-key": "anything"})

It binds 127.0.0.1 on a free port and serves from a background thread. It shares no
code with ``autoenhance_nb.client`` (nor anything else of the package) so that each
checks the other honestly.

The parts: ``SandboxSettings`` (``_settings``), the one list of what it can be told,
from which the CLI (``__main__``) and ``Sandbox``'s keywords and attributes are made;
``Sandbox`` (``_sandbox``), which runs ``SandboxApp`` (``_app``, routing, auth and the
request log) on the server of ``_server``; the faults it injects (``_faults``); the
endpoints, one module per resource (``endpoints/``); the account's data and status
model (``state/``); and the pictures it draws (``_render``).
"""

from __future__ import annotations

from ._app import LogEntry, SandboxApp
from ._sandbox import Sandbox
from ._settings import SandboxSettings
from .endpoints import DUPLICATE_ORDER_STATUS

__all__ = [
    "DEFAULT_KEY",
    "DUPLICATE_ORDER_STATUS",
    "LogEntry",
    "Sandbox",
    "SandboxApp",
    "SandboxSettings",
]

#: The key the CLI prints for clients when the sandbox accepts any key.
DEFAULT_KEY = "sandbox"
