"""`chartmigrate user ...` and `chartmigrate serve`: the review app's people and its server.

The web code lives in ``review_ui``; it is imported here only when a command runs, so the rest of
the command line neither needs nor loads it."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

from migrate.cli_options import DbOpt, HomeOpt, database_for
from migrate.errors import BadArguments, ChartmigrateError, ExitCode
from migrate.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

T = TypeVar("T")
PasswordStdinOpt = Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")]

user_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="People who use the review app.")
out = Console(highlight=False)
DEMO_USERS = (("demo-technician", "technician"), ("demo-supervisor", "supervisor"), ("demo-auditor", "auditor"))


class ReviewRefused(ChartmigrateError):
    exit_code = ExitCode.BAD_ARGS


def _password_from_stdin(asked: bool) -> str:
    """The password on the first line of stdin; never an argument, which other users' `ps` shows."""
    if not asked:
        raise BadArguments("give the password on standard input with --password-stdin (never as an argument)")
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise BadArguments("no password on standard input")
    return password


def _run(fn: Callable[[Session], T], settings: Settings) -> T:
    """Run ``fn(session)`` in one committed unit of work, turning the app's refusals into exit 2."""
    from migrate.db.session import migrate_to_head, unit_of_work
    from review_ui import services

    migrate_to_head(settings.database_url)
    with unit_of_work(settings.database_url) as session:
        try:
            result = fn(session)
        except services.ReviewError as e:
            raise ReviewRefused(e.message) from None
        session.commit()
        return result


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="the username")],
    role: Annotated[str, typer.Option("--role", help="technician, supervisor, auditor or admin")],
    password_stdin: PasswordStdinOpt = False,
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Add a person (the password is stored as an argon2 hash)."""
    from review_ui import services

    password = _password_from_stdin(password_stdin)
    _run(lambda s: services.add_user(s, name, role, password), database_for(db, home))
    out.print(f"added {name} ({role})")


@user_app.command("passwd")
def user_passwd(
    name: Annotated[str, typer.Argument(help="the username")],
    password_stdin: PasswordStdinOpt = False,
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Set a new password (signs the person out everywhere and clears a lockout)."""
    from review_ui import services

    password = _password_from_stdin(password_stdin)
    _run(lambda s: services.set_password(s, name, password), database_for(db, home))
    out.print(f"password of {name} set")


@user_app.command("unlock")
def user_unlock(name: Annotated[str, typer.Argument()], db: DbOpt = None, home: HomeOpt = None) -> None:
    """Clear a lockout after repeated failed logins."""
    from review_ui import services

    _run(lambda s: services.unlock(s, None, name), database_for(db, home))
    out.print(f"{name} unlocked")


@user_app.command("demo")
def user_demo(db: DbOpt = None, home: HomeOpt = None) -> None:
    """Create (or reset) one demo user per role with fresh random passwords, and print them."""
    from sqlalchemy import select

    from migrate.db.models import User
    from review_ui import services

    creds = [(name, role, secrets.token_urlsafe(12)) for name, role in DEMO_USERS]

    def go(session: Session) -> None:
        for name, role, password in creds:
            if session.scalar(select(User.id).where(User.username == name)) is None:
                services.add_user(session, name, role, password, by="demo")
            else:
                services.set_password(session, name, password, by="demo")

    _run(go, database_for(db, home))
    out.print("demo logins (new random passwords on every run; for a demo only):")
    for name, role, password in creds:
        out.print(f"  {role:11s} {name:16s} {password}")


def register_review_commands(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")

    @app.command("serve")
    def serve(
        host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
        db: DbOpt = None,
        home: HomeOpt = None,
    ) -> None:
        """Serve the review app (pages and the JSON API under /api)."""
        import uvicorn

        from review_ui.app import create_app

        settings = database_for(db, home)
        application = create_app(settings)
        out.print(f"review app on http://{host}:{port}  (Ctrl+C stops it)")
        # Access logs name paths and ids only; no PHI goes in a URL.
        uvicorn.run(application, host=host, port=port, log_level="warning", access_log=False)
