"""`python -m kutamo_identity scim ...`: SCIM tokens from a terminal (printed once, stored hashed).

python -m kutamo_identity scim create-token --login-code contoso [--name "Entra provisioning"]
python -m kutamo_identity scim list-tokens --login-code contoso
python -m kutamo_identity scim revoke-token --login-code contoso --token-id UUID
"""

import argparse
from typing import Any

import msgspec

from kutamo_identity import db
from kutamo_identity.config import Config
from kutamo_identity.errors import IdentityError
from kutamo_identity.scim.admin import ScimTokenService
from kutamo_identity.scim.schemas import ScimTokenCreate
from kutamo_identity.tenancy import resolve_login_code
from kutamo_identity.tenants import rules
from kutamo_identity.tenants.keys import Principal
from kutamo_kit.seams import system_clock

CLI = Principal(actor="cli", scope="operator", tenant_id=None)


def add_commands(groups: Any) -> None:
    scim = groups.add_parser("scim", help="SCIM provisioning tokens").add_subparsers(dest="action", required=True)
    for action, text in (("create-token", "create a SCIM token (printed once)"), ("list-tokens", "list SCIM tokens"),
                         ("revoke-token", "revoke a SCIM token")):  # fmt: skip
        command = scim.add_parser(action, help=text)
        command.add_argument("--login-code", required=True, help="the tenant's login code")
        if action == "create-token":
            command.add_argument("--name", default="Entra provisioning", help="what the token is for")
        if action == "revoke-token":
            command.add_argument("--token-id", required=True, help="the token's id")


async def run(config: Config, args: argparse.Namespace) -> Any:
    pool = await db.create_pool(config.database_url, max_size=2)
    try:
        found = await resolve_login_code(pool, args.login_code) if rules.LOGIN_CODE.fullmatch(args.login_code) else None
        if found is None:
            raise IdentityError("unknown_login_code", f"no connection uses the login code {args.login_code!r}")
        service = ScimTokenService(pool, config.public_base_url, system_clock)
        if args.action == "create-token":
            created = await service.create("cli", found, ScimTokenCreate(name=args.name))
            return {"id": str(created.id), "tenant_url": created.tenant_url, "token": created.token}
        if args.action == "list-tokens":
            return msgspec.to_builtins(await service.listing(CLI, found))
        token_id = rules.parse_guid(args.token_id, "token_id", "use the token's id.")
        await service.revoke("cli", found, token_id)
        return {"revoked": str(token_id)}
    finally:
        await pool.close()
