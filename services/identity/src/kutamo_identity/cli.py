"""Administration from a terminal: create a tenant and its Azure AD connection.

    python -m kutamo_identity tenants create --name "Contoso" --application-id GUID \
        --login-code contoso --directory-id GUID [--note "Use your Contoso account"]
"""

import argparse
import asyncio
import sys

import msgspec

from kutamo_identity import db
from kutamo_identity.config import Config
from kutamo_identity.errors import IdentityError
from kutamo_identity.seams import random_id, system_clock
from kutamo_identity.tenants import repository, rules


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kutamo_identity")
    groups = parser.add_subparsers(dest="group", required=True)
    tenants = groups.add_parser("tenants", help="manage tenants").add_subparsers(dest="action", required=True)
    create = tenants.add_parser("create", help="create a tenant with its Azure AD connection")
    create.add_argument("--name", required=True, help="the organisation's display name")
    create.add_argument("--application-id", required=True, help="Azure AD Application (client) ID")
    create.add_argument("--login-code", required=True, help="letters and digits; users log in at /login/<code>")
    create.add_argument("--directory-id", help="Azure AD Directory (tenant) ID allowed to sign in")
    create.add_argument("--note", help="note to your users, shown on the login page")
    return parser


async def _create(config: Config, args: argparse.Namespace) -> dict[str, str]:
    application_id = rules.parse_application_id(args.application_id)
    login_code = rules.check_login_code(args.login_code)
    note = rules.check_user_note(args.note)
    directory_id = rules.parse_directory_id(args.directory_id) if args.directory_id else None
    pool = await db.create_pool(config.database_url, max_size=2)
    try:
        async with pool.acquire() as conn:
            await db.migrate(conn)
            tenant_id, now = random_id(), system_clock()
            async with conn.transaction():
                await repository.create_tenant(conn, tenant_id, args.name, now)
                await repository.put_connection(
                    conn,
                    tenant_id=tenant_id,
                    application_id=application_id,
                    login_code=login_code,
                    user_note=note,
                    directory_id=directory_id,
                    now=now,
                )
    finally:
        await pool.close()
    return {
        "tenant_id": str(tenant_id),
        "login_code": login_code,
        "login_url": f"{config.public_base_url}/login/{login_code}",
        "status": "active" if directory_id else "pending_verification",
    }


def main(argv: list[str], config: Config) -> int:
    args = _parser().parse_args(argv)
    try:
        result = asyncio.run(_create(config, args))
    except IdentityError as exc:
        print(f"error ({exc.code}): {exc.detail}", file=sys.stderr)
        return 1
    except repository.LoginCodeTaken:
        print(f"error (login_code_taken): the login code {args.login_code!r} is already used", file=sys.stderr)
        return 1
    sys.stdout.write(msgspec.json.encode(result).decode() + "\n")
    return 0
