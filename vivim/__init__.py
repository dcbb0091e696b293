"""vivim: a self-hostable personal AI memory.

Public API::

    from vivim import open_vivim
    with open_vivim("~/vivim-data") as v:
        v.init()
        alice = v.create_user("alice")
        store = v.store(alice)
"""

from vivim.app import UserRecord, Vivim, open_vivim
from vivim.store.user.db import UserStore

__version__ = "0.1.0"
__all__ = ["UserRecord", "UserStore", "Vivim", "open_vivim", "__version__"]
