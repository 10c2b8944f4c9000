"""The ``serr`` command: serve, migrate, create-user, reset-mfa, demo, check."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from sqlalchemy import select, text

from app.config import Settings, get_settings


def _settings() -> Settings:
    try:
        return get_settings()
    except Exception as exc:  # pydantic ValidationError: show it plainly
        print(f"serr: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings()
    _print_banner(settings, args.host, args.port)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        server_header=False,  # no banner naming the server software
        log_level=args.log_level,
    )
    return 0


def _print_banner(settings: Settings, host: str, port: int) -> None:
    from app.db import Database
    from app.demo import DEMO_DOMAIN, DEMO_PASSWORD
    from app.models import User

    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(
        f"SE&RR scoring service on http://{shown}:{port}  (API docs: http://{shown}:{port}/docs)", flush=True
    )
    db = Database.from_settings(settings)
    try:
        with db.read_sessions() as session:
            if session.scalar(select(User.id).where(User.email == f"admin@{DEMO_DOMAIN}")) is not None:
                print(
                    f"Demo login: admin@{DEMO_DOMAIN} / {DEMO_PASSWORD}  "
                    f"(also chair@, scorer1@ … scorer5@, finance@, proposer@{DEMO_DOMAIN})",
                    flush=True,
                )
    except Exception:  # noqa: BLE001 - the banner must never stop the service
        pass
    finally:
        db.dispose()


def cmd_migrate(args: argparse.Namespace) -> int:
    from app.migrate import downgrade, upgrade

    settings = _settings()
    if args.downgrade:
        downgrade(settings.database_url, args.downgrade)
        print(f"Database downgraded to {args.downgrade}.")
    else:
        upgrade(settings.database_url, args.revision)
        print(f"Database migrated to {args.revision}.")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if args.password:
        return args.password
    if os.environ.get("SERR_NEW_USER_PASSWORD"):
        return os.environ["SERR_NEW_USER_PASSWORD"]
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise SystemExit("serr: the passwords differ")
        return first
    raise SystemExit("serr: give the password with --password-stdin, SERR_NEW_USER_PASSWORD or --password")


def cmd_create_user(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from app.db import Database
    from app.errors import ServiceError
    from app.users.schemas import UserCreate
    from app.users.service import create_user

    settings = _settings()
    try:
        data = UserCreate(
            email=args.email, full_name=args.name, password=_read_password(args), roles=args.role
        )
    except ValidationError as exc:
        for e in exc.errors():
            message = str(e["msg"]).removeprefix("Value error, ")
            print(f"serr: {'.'.join(map(str, e['loc']))}: {message}", file=sys.stderr)
        return 2
    db = Database.from_settings(settings)
    try:
        with db.unit_of_work() as session:
            user = create_user(session, settings, None, data)
            print(f"Created user {user.id} {user.email} with roles {', '.join(user.roles)}.")
    except ServiceError as exc:
        print(f"serr: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    return 0


def cmd_reset_mfa(args: argparse.Namespace) -> int:
    """Remove a user's second factor: for an admin who lost the device when no other admin can do it."""
    from sqlalchemy import func

    from app.auth import mfa
    from app.db import Database
    from app.models import User

    settings = _settings()
    db = Database.from_settings(settings)
    try:
        with db.unit_of_work() as session:
            user = session.scalar(select(User).where(func.lower(User.email) == args.email.strip().lower()))
            if user is None:
                print(f"serr: there is no user {args.email}", file=sys.stderr)
                return 1
            mfa.reset(session, None, user)
            print(
                f"Removed the second factor of {user.email}: they sign in with the password and set one up "
                "again."
            )
    except mfa.NotEnrolled as exc:
        print(f"serr: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from app.db import Database
    from app.demo import database_is_empty, demo_summary, load_demo

    settings = _settings()
    db = Database.from_settings(settings)
    try:
        with db.unit_of_work() as session:
            if not database_is_empty(session):
                if args.if_empty:
                    print("Database already has data; demo not loaded.")
                    return 0
                if not args.force:
                    print(
                        "serr: the database is not empty; use --force to add the demo cycle anyway.",
                        file=sys.stderr,
                    )
                    return 1
            load_demo(session, settings)
            print(f"Demo loaded: {demo_summary(session)}.")
    finally:
        db.dispose()
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from app.db import Database
    from app.migrate import current_revision, head_revision

    settings = _settings()
    print(
        f"configuration: ok (environment={settings.environment}, "
        f"database={settings.database_url.split('@')[-1]})"
    )
    db = Database.from_settings(settings)
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        print(f"database: reachable ({db.engine.dialect.name})")
        current, head = current_revision(db.engine), head_revision(settings.database_url)
    except Exception as exc:  # noqa: BLE001
        print(f"database: NOT reachable: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    if current != head:
        print(f"migrations: at {current}, head is {head}; run `serr migrate`", file=sys.stderr)
        return 1
    print(f"migrations: at head ({head})")
    return 0


def cmd_verify_submission(args: argparse.Namespace) -> int:
    from app.db import Database
    from app.models import Submission
    from app.submissions.service import verify

    settings = _settings()
    db = Database.from_settings(settings)
    try:
        with db.unit_of_work(write=False) as session:
            sub = session.get(Submission, args.id)
            if sub is None:
                print(f"serr: submission {args.id} does not exist", file=sys.stderr)
                return 2
            pack_problems = None
            if args.pdf is not None:
                from pathlib import Path

                from app.pack.verify import check_pack

                try:
                    data = Path(args.pdf).read_bytes()
                except OSError as exc:
                    print(f"serr: cannot read {args.pdf}: {exc.strerror}", file=sys.stderr)
                    return 2
                pack_problems = check_pack(sub, data)
            result = verify(sub)
    finally:
        db.dispose()
    problems = result["problems"] + [f"{args.pdf}: {p}" for p in pack_problems or []]
    if not problems:
        print(f"submission {args.id}: verified (sha256 {result['content_sha256']}; results reproduce)")
        if pack_problems is not None:
            print(
                f"{args.pdf}: the board pack of submission {args.id} (its hash, page footers and ranked "
                "list match the frozen record)"
            )
        return 0
    for problem in problems:
        print(f"submission {args.id}: FAILED: {problem}", file=sys.stderr)
    return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="serr", description="SE&RR efficiency review scoring service")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the HTTP service")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--log-level", default="info")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", help="bring the database schema to the migration head")
    p.add_argument("--revision", default="head")
    p.add_argument("--downgrade", metavar="REVISION", help="downgrade to REVISION (e.g. base) instead")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("create-user", help="create a user")
    p.add_argument("--email", required=True)
    p.add_argument("--name", required=True)
    p.add_argument(
        "--role",
        action="append",
        required=True,
        choices=["admin", "chair", "scorer", "finance", "proposer"],
        help="repeat for several",
    )
    p.add_argument(
        "--password", help="visible in the process list: prefer --password-stdin or SERR_NEW_USER_PASSWORD"
    )
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser(
        "reset-mfa", help="remove a user's second factor (a lost device; audited as mfa.reset)"
    )
    p.add_argument("--email", required=True)
    p.set_defaults(func=cmd_reset_mfa)

    p = sub.add_parser("demo", help="load the demo cycle into an empty database")
    p.add_argument("--force", action="store_true", help="load even if the database has data")
    p.add_argument("--if-empty", action="store_true", help="do nothing (exit 0) when the database has data")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("verify-submission", help="check a submission hash; recompute it from its inputs")
    p.add_argument("id", type=int)
    p.add_argument(
        "--pdf",
        metavar="FILE",
        help="also check that FILE is this submission's board pack (hash, footers and ranked list)",
    )
    p.set_defaults(func=cmd_verify_submission)

    p = sub.add_parser("check", help="check configuration, database reachability and migration head")
    p.set_defaults(func=cmd_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
