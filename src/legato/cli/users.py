"""``legato user``: the people who sign in to the control tower — create (the first admin), list,
change a password or role, disable or enable. A password is read from a hidden prompt, or from
standard input with ``--password-stdin`` (for scripts: it never appears in the process list)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from legato.cli.common import console, err, fail, runtime

app = typer.Typer(help="Control tower users and their roles (docs/control-tower.md).", no_args_is_help=True)

_ROLE_HELP = "admin, sales, approver, warehouse, finance or viewer (legato user roles)"


def _password(from_stdin: bool) -> str:
    if from_stdin:
        text = sys.stdin.readline().rstrip("\r\n")
        if not text:
            fail("no password on standard input", 2)
        return text
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True))


def _run(action: str, *args: object) -> None:
    from legato.domain.errors import LegatoError
    from legato.store.migrate import upgrade
    from legato.web import users

    rt = runtime()
    try:
        upgrade(rt.settings.database_url)
        user = getattr(users, action)(rt.engine, *args)
    except LegatoError as exc:
        for issue in exc.issues:
            err.print(f"{issue.path}: {issue.message}", highlight=False, markup=False)
        fail(exc.detail, 1 if exc.status == 409 or exc.status == 404 else 2)
    finally:
        rt.close()
    state = "" if user.active else " (disabled)"
    console.print(f"user [bold]{user.username}[/] is {user.role}{state}", highlight=False)


@app.command("create")
def create(
    username: Annotated[str, typer.Argument(help="2-64 characters: a-z 0-9 . _ -")],
    role: Annotated[str, typer.Option(help=_ROLE_HELP)] = "viewer",
    name: Annotated[str | None, typer.Option(help="the name shown in the header")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from stdin")
    ] = False,
) -> None:
    """Create a user who signs in with USERNAME and a password (10+ characters)."""
    _run("create_user", username, role, _password(password_stdin), name)


@app.command("password")
def password(
    username: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from stdin")
    ] = False,
) -> None:
    """Set a new password; the user is signed out everywhere."""
    _run("change_password", username, _password(password_stdin))


@app.command("role")
def role(username: str, new_role: Annotated[str, typer.Argument(metavar="ROLE", help=_ROLE_HELP)]) -> None:
    """Give the user another role; they sign in again."""
    _run("change_role", username, new_role)


@app.command("disable")
def disable(username: str) -> None:
    """Stop the user signing in; their open sessions end at once."""
    _run("set_active", username, False)


@app.command("enable")
def enable(username: str) -> None:
    _run("set_active", username, True)


@app.command("list")
def list_users() -> None:
    """Every user with their role and last sign-in."""
    from legato.store.users import list_users

    rt = runtime()
    try:
        table = Table("username", "name", "role", "active", "last sign-in")
        for u in list_users(rt.engine):
            seen = u.last_sign_in_at.strftime("%Y-%m-%d %H:%M") if u.last_sign_in_at else "never"
            table.add_row(u.username, u.display_name or "", u.role, "yes" if u.active else "no", seen)
        console.print(table)
    finally:
        rt.close()


@app.command("roles")
def roles() -> None:
    """What each role may see and do."""
    from legato.web.permissions import ROLE_HELP, ROLES

    table = Table("role", "what for", "permissions")
    for name, granted in ROLES.items():
        table.add_row(name, ROLE_HELP[name], ", ".join(sorted(granted)))
    console.print(table)


__all__ = ["app"]
