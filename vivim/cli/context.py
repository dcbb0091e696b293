"""What every CLI command shares: the vivim instance, the selected user, output helpers."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from vivim.app import UserRecord, Vivim, open_vivim
from vivim.domain.errors import InvalidIdentifier

USER_ENV = "VIVIM_USER"


@dataclass
class CliState:
    data_dir: Path | None
    user: str | None
    _vivim: Vivim | None = field(default=None, repr=False)

    @property
    def vivim(self) -> Vivim:
        if self._vivim is None:
            self._vivim = open_vivim(self.data_dir)
        return self._vivim

    def current_user(self) -> UserRecord:
        if not self.user:
            users = self.vivim.list_users()
            if len(users) == 1:
                return users[0]
            raise InvalidIdentifier(
                "which user? pass --user NAME or set VIVIM_USER "
                f"({len(users)} users exist; `vivim user list` shows them)"
            )
        return self.vivim.get_user(self.user)

    def close(self) -> None:
        if self._vivim is not None:
            self._vivim.close()


def state(ctx: typer.Context) -> CliState:
    return ctx.find_root().obj


out = Console(soft_wrap=True, emoji=False, highlight=False)
err = Console(stderr=True, soft_wrap=True, emoji=False, highlight=False)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
