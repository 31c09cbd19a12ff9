"""What every ``legato`` sub-command shares: the consoles, failing with a message, the runtime."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

from legato.config import get_settings

if TYPE_CHECKING:
    from legato.bootstrap import Runtime

console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def runtime() -> Runtime:
    from legato.bootstrap import build

    return build(get_settings())


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # some containers have no user name
        return "cli"


__all__ = ["actor", "console", "err", "fail", "runtime"]
