-- Issue 13, data protection. Tenant isolation enforced by PostgreSQL, as in the identity schema: the
-- worker's pool acts as kutamo_provisioning_app, which row-level security confines to the tenant named
-- in the transaction (set_config('kutamo.tenant_id', ..., true)), or to every tenant in the worker's
-- own transactions (set_config('kutamo.all_tenants', 'on', true)); without either it sees nothing.
-- Avatars belong to a tenant: the same picture in two tenants is stored twice, so no tenant can learn
-- whether another holds an image. Erased users leave a tombstone (ids and time only) so a replayed or
-- late sign-in of theirs is never applied again.

do $$
begin
    if not exists (select from pg_roles where rolname = 'kutamo_provisioning_app') then
        create role kutamo_provisioning_app nologin;
    end if;
end
$$;
grant kutamo_provisioning_app to current_user;

alter table provisioning.avatars rename to avatars_shared;
alter table provisioning.users drop constraint users_avatar_sha256_fkey;
create table provisioning.avatars (
    tenant_id uuid not null,
    sha256 text not null,
    content_type text not null,
    bytes bytea not null,
    created_at timestamptz not null,
    primary key (tenant_id, sha256)
);
-- Every avatar a user references, once per tenant; avatars nobody references are not carried over.
insert into provisioning.avatars (tenant_id, sha256, content_type, bytes, created_at)
    select distinct on (u.tenant_id, a.sha256) u.tenant_id, a.sha256, a.content_type, a.bytes, a.created_at
    from provisioning.users u join provisioning.avatars_shared a on a.sha256 = u.avatar_sha256;
drop table provisioning.avatars_shared;
alter table provisioning.users add constraint users_avatar_fkey
    foreign key (tenant_id, avatar_sha256) references provisioning.avatars (tenant_id, sha256);
create index users_by_avatar on provisioning.users (tenant_id, avatar_sha256) where avatar_sha256 is not null;

-- Whose event it was, so erasing a user erases their processed events too (rows from before: null).
alter table provisioning.processed_events add column tenant_id uuid, add column user_id uuid;
create index processed_events_by_user on provisioning.processed_events (user_id) where user_id is not null;

create table provisioning.erased_users (
    user_id uuid primary key,
    tenant_id uuid not null,
    erased_at timestamptz not null,
    source_event_id uuid not null
);

create function provisioning.current_tenant() returns uuid
    language sql stable
    as $$ select nullif(current_setting('kutamo.tenant_id', true), '')::uuid $$;

create function provisioning.all_tenants() returns boolean
    language sql stable
    as $$ select coalesce(current_setting('kutamo.all_tenants', true), '') = 'on' $$;

grant usage on schema provisioning to kutamo_provisioning_app;
grant select, insert, update, delete on all tables in schema provisioning to kutamo_provisioning_app;
grant usage, select on all sequences in schema provisioning to kutamo_provisioning_app;
grant execute on function provisioning.current_tenant(), provisioning.all_tenants() to kutamo_provisioning_app;

do $$
declare
    t text;
begin
    foreach t in array array['users', 'avatars', 'processed_events', 'erased_users']
    loop
        execute format('alter table provisioning.%I enable row level security', t);
        execute format('alter table provisioning.%I force row level security', t);
        execute format(
            'create policy tenant_isolation on provisioning.%I '
            'using (tenant_id = provisioning.current_tenant() or provisioning.all_tenants()) '
            'with check (tenant_id = provisioning.current_tenant() or provisioning.all_tenants())', t);
    end loop;
end
$$;
