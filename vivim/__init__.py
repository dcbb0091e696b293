"""vivim: a self-hostable personal AI memory.

Public API::

    from vivim import open_vivim
    with open_vivim("~/vivim-data") as v:
        v.init()
        alice = v.create_user("alice")
        store = v.store(alice)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vivim.app import UserRecord, Vivim, open_vivim
    from vivim.store.user.db import UserStore

__version__ = "0.1.0"
__all__ = ["UserRecord", "UserStore", "Vivim", "open_vivim", "__version__"]

_LAZY = {
    "UserRecord": "vivim.app",
    "Vivim": "vivim.app",
    "open_vivim": "vivim.app",
    "UserStore": "vivim.store.user.db",
}


def __getattr__(name: str) -> Any:
    # Lazy, so that importing any vivim module (the import's parser process, say) does not
    # first load the whole application with SQLAlchemy and Alembic (~0.8 s).
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vivim' has no attribute {name!r}")
