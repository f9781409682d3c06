"""Administration from a terminal: tenants, their Azure AD connection, verification codes, API keys.

    python -m kutamo_identity tenants create --name "Contoso" --application-id GUID \
        --login-code contoso [--directory-id GUID] [--note "Use your Contoso account"]
    python -m kutamo_identity tenants verification-code --login-code contoso
    python -m kutamo_identity tenants setup-link --login-code contoso [--valid-days 7]
    python -m kutamo_identity tenants erase --tenant-id UUID --yes
    python -m kutamo_identity users erase --tenant-id UUID --user-id UUID
    python -m kutamo_identity keys create --operator --name "ops team"
    python -m kutamo_identity keys create --tenant-id UUID --name "Contoso IT"
    python -m kutamo_identity keys list --operator
    python -m kutamo_identity keys revoke --id UUID
    python -m kutamo_identity scim create-token --login-code contoso   (also list-tokens, revoke-token)
    python -m kutamo_identity migrate          (needs only DATABASE_URL; see __main__)

Keys and setup links are printed once and stored only as a hash. Everything the CLI changes is in the
audit log with actor `cli`. The CLI is an operator's tool: a --directory-id it is given is pinned at
once, and refused when another tenant pinned that (application, directory) pair, unless
--approve-shared-directory records the operator's approval too.

A connection created without --directory-id is pending: its IT admin completes one verification
sign-in with the code (shown once, valid for VERIFICATION_CODE_TTL_SECONDS), which pins the Azure
directory the admin signed in from.
"""

import argparse
import asyncio
import sys
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import msgspec

from kutamo_identity import db
from kutamo_identity.config import Config
from kutamo_identity.erasure.service import ErasureService
from kutamo_identity.errors import BadRequest, IdentityError
from kutamo_identity.ops.pipeline import PipelineView
from kutamo_identity.ops.recent import RecentOutcomes
from kutamo_identity.ops.table import render
from kutamo_identity.scim import cli as scim_cli
from kutamo_identity.setup.admin import SetupLinkService
from kutamo_identity.setup.schemas import SetupLinkCreate
from kutamo_identity.signin import secrets
from kutamo_identity.tenancy import operator_transaction, resolve_login_code, tenant_transaction
from kutamo_identity.tenants import audit, binding, keys, repository, rules
from kutamo_identity.tenants.keys import Principal
from kutamo_identity.tenants.service import public_row
from kutamo_kit.seams import random_id, system_clock

CLI = Principal(actor="cli", scope="operator", tenant_id=None)


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
    create.add_argument("--allow-guests", action="store_true", help="let B2B guests of the directory sign in")
    create.add_argument(
        "--approve-shared-directory", action="store_true",
        help="approve this tenant for a directory another tenant already pinned for the same application",
    )  # fmt: skip
    create.add_argument(
        "--sign-in-flow", choices=("implicit", "pkce"), default="implicit",
        help="Microsoft's browser flow the login page runs (default implicit, as the help page describes)",
    )  # fmt: skip
    verify = tenants.add_parser("verification-code", help="a single-use code for the verification sign-in")
    verify.add_argument("--login-code", required=True, help="the login code of the pending connection")
    link = tenants.add_parser("setup-link", help="a setup link for the tenant's IT admin (printed once)")
    which = link.add_mutually_exclusive_group(required=True)
    which.add_argument("--login-code", help="the tenant's login code")
    which.add_argument("--tenant-id", help="the tenant's id (a tenant without a connection yet)")
    link.add_argument("--valid-days", type=int, default=7, help="days the link works, 1 to 30 (default 7)")
    erase_tenant = tenants.add_parser("erase", help="erase a tenant, its users and everything it holds")
    erase_tenant.add_argument("--tenant-id", required=True, help="the tenant's id")
    erase_tenant.add_argument("--yes", action="store_true", required=True, help="confirm: this cannot be undone")
    users = groups.add_parser("users", help="manage users").add_subparsers(dest="action", required=True)
    erase_user = users.add_parser("erase", help="erase a user: identity, sign-ins, events (announced downstream)")
    erase_user.add_argument("--tenant-id", required=True, help="the user's tenant id")
    erase_user.add_argument("--user-id", required=True, help="the Kutamo user id")
    keys_group = groups.add_parser("keys", help="manage API keys").add_subparsers(dest="action", required=True)
    key = keys_group.add_parser("create", help="create an API key (printed once)")
    scope = key.add_mutually_exclusive_group(required=True)
    scope.add_argument("--operator", action="store_true", help="an operator key: acts on every tenant")
    scope.add_argument("--tenant-id", help="a tenant-admin key for this tenant")
    key.add_argument("--name", default="api key", help="what the key is for")
    listing = keys_group.add_parser("list", help="list API keys, without secrets")
    listing.add_argument("--operator", action="store_true", required=True, help="the operator keys")
    revoke = keys_group.add_parser("revoke", help="revoke an operator key")
    revoke.add_argument("--id", required=True, help="the key's id")
    ops = groups.add_parser("ops", help="operate the pipeline").add_subparsers(dest="action", required=True)
    status = ops.add_parser("status", help="the pipeline summary of the /ops page, as tables")
    status.add_argument("--json", action="store_true", help="print the summary as JSON instead")
    scim_cli.add_commands(groups)
    return parser


async def _create(config: Config, args: argparse.Namespace) -> dict[str, str]:
    application_id = rules.parse_application_id(args.application_id)
    login_code = rules.check_login_code(args.login_code)
    note = rules.check_user_note(args.note)
    directory_id = rules.parse_directory_id(args.directory_id) if args.directory_id else None
    status = "active" if directory_id else "pending_verification"
    pool = await db.create_pool(config.database_url, max_size=2)
    tenant_id, now = random_id(), system_clock()
    try:
        async with tenant_transaction(pool, tenant_id) as conn:
            await repository.create_tenant(conn, tenant_id, args.name, now)
            await audit.record(conn, tenant_id, "cli", "tenant.created", now, after={"display_name": args.name})
            if directory_id is not None and args.approve_shared_directory:
                await repository.approve_directory(conn, tenant_id, application_id, directory_id, "cli", now)
                approved = {"application_id": str(application_id), "directory_id": str(directory_id)}
                await audit.record(conn, tenant_id, "cli", "azure_ad.directory_approved", now, after=approved)
            if directory_id is not None and await repository.bound_elsewhere(
                conn, tenant_id, application_id, directory_id
            ):
                raise binding.already_bound()
            await repository.claim_login_code(conn, tenant_id, login_code, None, now, now)
            await repository.upsert_connection(
                conn, tenant_id=tenant_id, application_id=application_id, login_code=login_code, user_note=note,
                directory_id=directory_id, status=status, sign_in_flow=args.sign_in_flow, now=now,
                allow_guests=args.allow_guests,
            )  # fmt: skip
            after = await repository.connection_row(conn, tenant_id)
            await audit.record(conn, tenant_id, "cli", "azure_ad.created", now, after=public_row(after))
    except (repository.LoginCodeTaken, asyncpg.UniqueViolationError, asyncpg.InsufficientPrivilegeError):
        raise IdentityError("login_code_taken", f"the login code {login_code!r} is already used") from None
    finally:
        await pool.close()
    return {
        "tenant_id": str(tenant_id),
        "login_code": login_code,
        "login_url": f"{config.public_base_url}/login/{login_code}",
        "status": status,
    }


async def _verification_code(config: Config, args: argparse.Namespace) -> dict[str, str]:
    pool = await db.create_pool(config.database_url, max_size=2)
    try:
        connection = await repository.find_by_login_code(pool, args.login_code)
        if connection is None:
            raise IdentityError("unknown_login_code", f"no connection uses the login code {args.login_code!r}")
        if connection.directory_id is not None:
            raise IdentityError("already_verified", "this connection's directory is already pinned")
        now = system_clock()
        ttl = timedelta(seconds=config.verification_code_ttl_seconds)
        async with tenant_transaction(pool, connection.tenant_id) as conn:
            code = await secrets.issue_verification_code(conn, connection.tenant_id, now, ttl, "cli")
            await audit.record(conn, connection.tenant_id, "cli", "azure_ad.verification_code_created", now)
    finally:
        await pool.close()
    return {
        "verification_code": code,
        "expires_at": (now + ttl).isoformat(),
        "login_url": f"{config.public_base_url}/login/{connection.login_code}?verification_code={code}",
    }


async def _setup_link(config: Config, args: argparse.Namespace) -> dict[str, str]:
    try:
        body = msgspec.convert({"valid_days": args.valid_days}, SetupLinkCreate)
    except msgspec.ValidationError:
        raise IdentityError("invalid_valid_days", "--valid-days must be a whole number from 1 to 30") from None
    pool = await db.create_pool(config.database_url, max_size=2)
    try:
        if args.tenant_id is not None:
            tenant_id = rules.parse_guid(args.tenant_id, "tenant_id", "use the tenant's id.")
        else:
            found = (
                await resolve_login_code(pool, args.login_code) if rules.LOGIN_CODE.fullmatch(args.login_code) else None
            )
            if found is None:
                raise IdentityError("unknown_login_code", f"no connection uses the login code {args.login_code!r}")
            tenant_id = found
        service = SetupLinkService(pool, config.public_base_url, system_clock)
        created = await service.create(CLI, tenant_id, body)
    finally:
        await pool.close()
    return {"id": str(created.id), "url": created.url, "expires_at": created.expires_at.isoformat()}


async def _create_key(config: Config, args: argparse.Namespace) -> dict[str, str]:
    tenant_id = None if args.operator else rules.parse_guid(args.tenant_id, "tenant_id", "use the tenant's id.")
    pool = await db.create_pool(config.database_url, max_size=2)
    now = system_clock()
    try:
        transaction = operator_transaction(pool) if tenant_id is None else tenant_transaction(pool, tenant_id)
        async with transaction as conn:
            if tenant_id is not None and await repository.get_tenant(conn, tenant_id) is None:
                raise IdentityError("tenant_not_found", "there is no tenant with this id")
            scope = "operator" if tenant_id is None else "tenant-admin"
            described, key = await keys.create(
                conn, tenant_id=tenant_id, scope=scope, name=args.name, created_by="cli", now=now
            )
            await audit.record(conn, tenant_id, "cli", "api_key.created", now, after=public_row(described))
    finally:
        await pool.close()
    return {"id": str(described["id"]), "scope": scope, "key": key}


async def _list_keys(config: Config, args: argparse.Namespace) -> str:
    pool = await db.create_pool(config.database_url, max_size=2)
    try:
        async with operator_transaction(pool) as conn:
            rows = await keys.listing(conn, None)
    finally:
        await pool.close()
    return "".join(msgspec.json.encode(public_row(row)).decode() + "\n" for row in rows)


async def _revoke_key(config: Config, args: argparse.Namespace) -> dict[str, Any]:
    key_id = rules.parse_guid(args.id, "id", "use the id `keys list --operator` prints.")
    pool = await db.create_pool(config.database_url, max_size=2)
    now = system_clock()
    try:
        async with operator_transaction(pool) as conn:
            revoked = await keys.revoke(conn, None, key_id, now)
            if revoked is None:
                raise IdentityError("api_key_not_found", "there is no operator key with this id")
            await audit.record(conn, None, "cli", "api_key.revoked", now, after=public_row(revoked))
    finally:
        await pool.close()
    return public_row(revoked) or {}


async def _ops_status(config: Config, args: argparse.Namespace) -> dict[str, Any] | str:
    pool = await db.create_pool(config.database_url, max_size=4)
    pipeline = PipelineView(
        pool, config.kafka_bootstrap_servers, config.provisioning_consumer_group, config.provisioning_base_url,
        RecentOutcomes(), RecentOutcomes(), system_clock,
    )  # fmt: skip
    try:
        summary = await pipeline.summary()
    finally:
        await pipeline.close()
        await pool.close()
    return msgspec.to_builtins(summary) if args.json else render(summary)


async def _erase(config: Config, args: argparse.Namespace) -> dict[str, Any]:
    try:
        tenant_id = uuid.UUID(args.tenant_id)
        user_id = uuid.UUID(args.user_id) if args.group == "users" else None
    except ValueError:
        raise BadRequest("invalid_id", "--tenant-id and --user-id must be UUIDs.") from None
    pool = await db.create_pool(config.database_url, max_size=2)
    try:
        service = ErasureService(pool, system_clock, random_id)
        if user_id is None:
            erasure = await service.erase_tenant(CLI, tenant_id)
        else:
            erasure = await service.erase_user(CLI, tenant_id, user_id)
    finally:
        await pool.close()
    return msgspec.to_builtins(erasure)  # type: ignore[no-any-return]


def main(argv: list[str], config: Config) -> int:
    args = _parser().parse_args(argv)
    actions = {("tenants", "create"): _create, ("tenants", "verification-code"): _verification_code,
               ("tenants", "setup-link"): _setup_link, ("keys", "create"): _create_key,
               ("keys", "list"): _list_keys, ("keys", "revoke"): _revoke_key,
               ("ops", "status"): _ops_status, ("tenants", "erase"): _erase, ("users", "erase"): _erase}  # fmt: skip
    action = scim_cli.run if args.group == "scim" else actions[(args.group, args.action)]
    try:
        result = asyncio.run(action(config, args))
    except IdentityError as exc:
        sys.stderr.write(f"error ({exc.code}): {exc.detail}\n")
        return 1
    sys.stdout.write(result if isinstance(result, str) else msgspec.json.encode(result).decode() + "\n")
    return 0
