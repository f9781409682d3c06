-- The tenant admin API: API keys, login codes with a rename grace period, the audit log; and tenant
-- isolation enforced by PostgreSQL: the service runs as role kutamo_identity_app, which row-level
-- security confines to the tenant named in the transaction (set_config('kutamo.tenant_id', ..., true))
-- unless the transaction is an operator's (set_config('kutamo.operator', 'on', true)).

do $$
begin
    if not exists (select from pg_roles where rolname = 'kutamo_identity_app') then
        create role kutamo_identity_app nologin;
    end if;
end
$$;
grant kutamo_identity_app to current_user;

create table identity.api_keys (
    id uuid primary key,
    -- null for operator keys, which act on every tenant
    tenant_id uuid references identity.tenants (id) on delete cascade,
    scope text not null check (scope in ('operator', 'tenant-admin')),
    name text not null,
    key_hash bytea not null unique,
    prefix text not null,
    created_at timestamptz not null,
    created_by text not null,
    revoked_at timestamptz,
    check ((scope = 'operator') = (tenant_id is null))
);

-- Every login code in use: the current one of each connection, and old ones still resolving during
-- their grace period. One primary key makes a code unique across both, case-insensitively.
create table identity.login_codes (
    code_lower text primary key,
    tenant_id uuid not null references identity.tenants (id) on delete cascade,
    is_current boolean not null,
    expires_at timestamptz,
    check (is_current = (expires_at is null))
);
insert into identity.login_codes (code_lower, tenant_id, is_current)
    select lower(login_code), tenant_id, true from identity.azure_ad_connections;

create table identity.audit_log (
    id bigserial primary key,
    tenant_id uuid not null references identity.tenants (id) on delete cascade,
    at timestamptz not null,
    actor text not null,
    action text not null,
    before jsonb,
    after jsonb
);
create index audit_log_by_tenant on identity.audit_log (tenant_id, id desc);

create function identity.current_tenant() returns uuid
    language sql stable
    as $$ select nullif(current_setting('kutamo.tenant_id', true), '')::uuid $$;

create function identity.is_operator() returns boolean
    language sql stable
    as $$ select coalesce(current_setting('kutamo.operator', true), '') = 'on' $$;

-- The two look-ups that must happen before a tenant is known run with the owner's rights and return
-- only what the caller needs.
create function identity.resolve_login_code(code text) returns uuid
    language sql stable security definer set search_path = identity, pg_temp
    as $$
        select tenant_id from identity.login_codes
        where code_lower = lower(code) and (is_current or expires_at > now())
    $$;

create function identity.authenticate_api_key(hash bytea) returns table (id uuid, tenant_id uuid, scope text)
    language sql stable security definer set search_path = identity, pg_temp
    as $$ select id, tenant_id, scope from identity.api_keys where key_hash = hash and revoked_at is null $$;

grant usage on schema identity to kutamo_identity_app;
grant select, insert, update, delete on all tables in schema identity to kutamo_identity_app;
grant usage, select on all sequences in schema identity to kutamo_identity_app;
grant execute on function identity.current_tenant(), identity.is_operator(), identity.resolve_login_code(text),
    identity.authenticate_api_key(bytea) to kutamo_identity_app;

do $$
declare
    t text;
begin
    foreach t in array array['azure_ad_connections', 'identities', 'sign_ins', 'login_nonces',
                             'verification_codes', 'api_keys', 'login_codes', 'audit_log']
    loop
        execute format('alter table identity.%I enable row level security', t);
        execute format('alter table identity.%I force row level security', t);
        execute format(
            'create policy tenant_isolation on identity.%I using (tenant_id = identity.current_tenant() '
            'or identity.is_operator()) with check (tenant_id = identity.current_tenant() or identity.is_operator())',
            t);
    end loop;
end
$$;
alter table identity.tenants enable row level security;
alter table identity.tenants force row level security;
create policy tenant_isolation on identity.tenants
    using (id = identity.current_tenant() or identity.is_operator())
    with check (id = identity.current_tenant() or identity.is_operator());
