-- Setup links: an operator (or the tenant's admin) hands a customer's IT admin a link to the setup page.
-- The link's secret and the setup sessions it opens are kept only as SHA-256 hashes. Both tables are
-- tenant-owned and confined by row-level security like the others (0003); the two look-ups that come
-- before the tenant is known are security-definer functions returning only what the caller needs.

create table identity.setup_links (
    id uuid primary key,
    tenant_id uuid not null references identity.tenants (id) on delete cascade,
    secret_hash bytea not null unique,
    created_at timestamptz not null,
    created_by text not null,
    expires_at timestamptz not null,
    revoked_at timestamptz,
    last_used_at timestamptz
);
create index setup_links_by_tenant on identity.setup_links (tenant_id, created_at);

-- A setup session is what the page's cookie names: bound to its link and tenant, valid an hour at
-- most and never past the link's expiry; revoking the link ends it.
create table identity.setup_sessions (
    session_hash bytea primary key,
    link_id uuid not null references identity.setup_links (id) on delete cascade,
    tenant_id uuid not null references identity.tenants (id) on delete cascade,
    created_at timestamptz not null,
    expires_at timestamptz not null,
    ended_at timestamptz
);
create index setup_sessions_by_link on identity.setup_sessions (link_id);
create index setup_sessions_expiry on identity.setup_sessions (expires_at);

create function identity.find_setup_link(hash bytea)
    returns table (id uuid, tenant_id uuid, expires_at timestamptz, revoked_at timestamptz)
    language sql stable security definer set search_path = identity, pg_temp
    as $$ select id, tenant_id, expires_at, revoked_at from identity.setup_links where secret_hash = hash $$;

create function identity.authenticate_setup_session(hash bytea, at timestamptz)
    returns table (link_id uuid, tenant_id uuid, expires_at timestamptz, link_expires_at timestamptz)
    language sql stable security definer set search_path = identity, pg_temp
    as $$
        select s.link_id, s.tenant_id, s.expires_at, l.expires_at
        from identity.setup_sessions s join identity.setup_links l on l.id = s.link_id
        where s.session_hash = hash and s.ended_at is null and s.expires_at > at
          and l.revoked_at is null and l.expires_at > at
    $$;

grant select, insert, update, delete on identity.setup_links, identity.setup_sessions to kutamo_identity_app;
grant execute on function identity.find_setup_link(bytea), identity.authenticate_setup_session(bytea, timestamptz)
    to kutamo_identity_app;

do $$
declare
    t text;
begin
    foreach t in array array['setup_links', 'setup_sessions']
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
