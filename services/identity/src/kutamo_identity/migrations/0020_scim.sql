-- SCIM 2.0 provisioning (issue 16): per-tenant SCIM bearer tokens (kept only as SHA-256 hashes), the
-- directory's view of each provisioned user, and an audit row per SCIM request (token id, method,
-- route, status; never the payload or the filter, which carry personal data). All three are
-- tenant-owned and confined by row-level security like the others (0003).

create table identity.scim_tokens (
    id uuid primary key,
    tenant_id uuid not null references identity.tenants (id) on delete cascade,
    name text not null,
    token_hash bytea not null unique,
    prefix text not null,
    created_at timestamptz not null,
    created_by text not null,
    revoked_at timestamptz,
    last_used_at timestamptz
);
create index scim_tokens_by_tenant on identity.scim_tokens (tenant_id, created_at);

-- A user the directory provisioned: the SCIM resource behind identities.user_id. Only what the seed
-- keeps (name, email, title) plus the identifiers SCIM needs to match (externalId = Azure oid,
-- userName). A deleted user stays as a tombstone without personal data, so its sign-in stays refused
-- and its version keeps counting.
create table identity.scim_users (
    user_id uuid primary key references identity.identities (user_id) on delete cascade,
    tenant_id uuid not null references identity.tenants (id) on delete cascade,
    external_id text not null,
    user_name text,
    display_name text,
    given_name text,
    family_name text,
    email text,
    title text,
    active boolean not null,
    version bigint not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    deleted_at timestamptz,
    check ((deleted_at is null) = (user_name is not null))
);
create unique index scim_users_user_name on identity.scim_users (tenant_id, lower(user_name)) where deleted_at is null;
create unique index scim_users_external_id on identity.scim_users (tenant_id, external_id);

create table identity.scim_requests (
    id bigserial primary key,
    tenant_id uuid not null references identity.tenants (id) on delete cascade,
    token_id uuid not null,
    at timestamptz not null,
    method text not null,
    route text not null,
    resource_id uuid,
    status int not null,
    scim_type text
);
create index scim_requests_by_tenant on identity.scim_requests (tenant_id, id desc);

-- A SCIM-created person has an identity before their first sign-in.
alter table identity.identities alter column last_signed_in_at drop not null;

create function identity.authenticate_scim_token(hash bytea) returns table (id uuid, tenant_id uuid)
    language sql stable security definer set search_path = identity, pg_temp
    as $$ select id, tenant_id from identity.scim_tokens where token_hash = hash and revoked_at is null $$;

grant select, insert, update, delete on identity.scim_tokens, identity.scim_users, identity.scim_requests
    to kutamo_identity_app;
grant usage, select on sequence identity.scim_requests_id_seq to kutamo_identity_app;
grant execute on function identity.authenticate_scim_token(bytea) to kutamo_identity_app;

-- Enabled, not forced: the owner (the service's login role, not a superuser) must read scim_tokens in
-- authenticate_scim_token before any tenant is known; requests run as kutamo_identity_app and stay
-- confined (see 0013_owner_is_not_superuser.sql).
do $$
declare
    t text;
begin
    foreach t in array array['scim_tokens', 'scim_users', 'scim_requests']
    loop
        execute format('alter table identity.%I enable row level security', t);
        execute format(
            'create policy tenant_isolation on identity.%I using (tenant_id = identity.current_tenant() '
            'or identity.is_operator()) with check (tenant_id = identity.current_tenant() or identity.is_operator())',
            t);
    end loop;
end
$$;
