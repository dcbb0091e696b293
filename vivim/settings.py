"""Typed settings, read from the environment only when asked (never at import time)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

DATA_DIR_ENV = "VIVIM_DATA_DIR"
MASTER_URL_ENV = "VIVIM_MASTER_URL"
MAX_OPEN_ENV = "VIVIM_MAX_OPEN_USER_DBS"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    master_url: str
    max_open_user_dbs: int = 128

    @property
    def users_dir(self) -> Path:
        return self.data_dir / "users"

    @classmethod
    def load(
        cls,
        data_dir: Path | str | None = None,
        *,
        master_url: str | None = None,
        max_open_user_dbs: int | None = None,
    ) -> Settings:
        """Explicit arguments win over the environment, which wins over defaults."""
        if data_dir is None:
            data_dir = os.environ.get(DATA_DIR_ENV) or platformdirs.user_data_dir("vivim", appauthor=False)
        data = Path(data_dir).expanduser().resolve()
        url = master_url or os.environ.get(MASTER_URL_ENV) or f"sqlite:///{data / 'master.sqlite'}"
        max_open = max_open_user_dbs or int(os.environ.get(MAX_OPEN_ENV, "128"))
        return cls(data_dir=data, master_url=url, max_open_user_dbs=max_open)
