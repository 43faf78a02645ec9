"""The portal's side of a Keystone call: the client, and its failures as problems users can act on."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from backends.errors import BackendPermanentError, BackendTransientError
from bluedock_portal.errors import BackendUnavailable, Conflict, InvalidInput


def keystone():
    """The backend module, imported on first use so a portal without Keystone never loads openstacksdk."""
    from backends import keystone as module

    return module


@contextlib.contextmanager
def keystone_errors() -> Iterator[None]:
    """Raise backend failures as 503 keystone_unavailable or 409/400 keystone_rejected."""
    try:
        yield
    except BackendTransientError as exc:
        raise BackendUnavailable(f"Keystone is unavailable, nothing was changed: {exc.message}",
                                 code="keystone_unavailable") from exc
    except BackendPermanentError as exc:
        error = Conflict if exc.status == 409 else InvalidInput
        raise error(exc.message, code="keystone_rejected", keystone_status=exc.status) from exc
