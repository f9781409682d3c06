-- Issue 14: a sign-in is one round trip to PostgreSQL. identity.record_sign_in does in one statement
-- (its own transaction) what the sign-in's transaction did in six: enter the tenant's context, check
-- the person is not deactivated, consume the nonce, link (tid, oid) to the user id, record the sign-in
-- and write its outbox row. It runs as the caller (kutamo_identity_app), so row-level security applies
-- to every statement in it, in the tenant context it sets first.
--
-- The caller decided on a connection it may have cached (tenants/cache.py): the function admits only
-- while the connection row is still that version (its xmin) and not disabled, else it writes nothing
-- and answers 'stale', and the caller decides again on the connection as it is now. So an admin's
-- change binds the very next sign-in, whether or not its NOTIFY has reached the process yet.
--
-- The event in the outbox row names the user id, so the caller must know it before the call: the id
-- it remembers for (tid, oid), or a fresh one for a person it has not seen. When the database links
-- (tid, oid) to another id (the caller's memory is stale, or another process linked the person first),
-- the function writes nothing and answers 'relink' with the linked id (or null when the person was
-- erased and must get a new one); the caller builds the event again and calls once more.
create function identity.record_sign_in(
    p_tenant uuid, p_nonce_hash bytea, p_nonce_expires timestamptz, p_tid uuid, p_oid uuid, p_user uuid,
    p_user_is_new boolean, p_now timestamptz, p_event uuid, p_name text, p_topic text, p_key bytea,
    p_value bytea, p_headers bytea, p_connection_version text
) returns table (outcome text, user_id uuid)
    language plpgsql volatile security invoker set search_path = identity, pg_temp
    as $$
declare
    linked uuid;
begin
    perform set_config('kutamo.tenant_id', p_tenant::text, true);
    if not exists (select 1 from azure_ad_connections c where c.tenant_id = p_tenant
                   and c.xmin::text = p_connection_version and c.status <> 'disabled') then
        return query select 'stale'::text, null::uuid;
        return;
    end if;
    select i.user_id into linked from identities i
    where i.tenant_id = p_tenant and i.azure_tid = p_tid and i.azure_oid = p_oid;
    if linked is distinct from p_user and (linked is not null or not p_user_is_new) then
        return query select 'relink'::text, linked;
        return;
    end if;
    if linked is not null and exists (select 1 from scim_users s where s.user_id = linked and not s.active) then
        return query select 'user_deactivated'::text, linked;
        return;
    end if;
    insert into consumed_nonces (nonce_hash, tenant_id, consumed_at, expires_at)
    values (p_nonce_hash, p_tenant, p_now, p_nonce_expires) on conflict (nonce_hash) do nothing;
    if not found then
        return query select 'nonce_invalid'::text, null::uuid;
        return;
    end if;
    if linked is null then
        insert into identities (user_id, tenant_id, azure_tid, azure_oid, created_at, last_signed_in_at)
        values (p_user, p_tenant, p_tid, p_oid, p_now, p_now)
        on conflict (tenant_id, azure_tid, azure_oid) do nothing;
        if not found then  -- linked by a racing sign-in since the select: undo the nonce, say so
            raise exception 'identity linked concurrently' using errcode = '40001';
        end if;
    else
        update identities set last_signed_in_at = greatest(last_signed_in_at, p_now)
        where tenant_id = p_tenant and azure_tid = p_tid and azure_oid = p_oid;
    end if;
    insert into sign_ins (event_id, tenant_id, user_id, signed_in_at, name)
    values (p_event, p_tenant, p_user, p_now, p_name);
    insert into outbox (event_id, topic, key, value, headers, created_at)
    values (p_event, p_topic, p_key, p_value, p_headers, p_now);
    perform pg_notify('kutamo_outbox', '');
    return query select 'ok'::text, p_user;
end
$$;
grant execute on function identity.record_sign_in(
    uuid, bytea, timestamptz, uuid, uuid, uuid, boolean, timestamptz, uuid, text, text, bytea, bytea, bytea, text
) to kutamo_identity_app;

-- A change to what a login code admits (its connection, its tenant's name, the code itself) tells every
-- identity process to forget the connections it cached (tenants/cache.py), at commit.
create function identity.notify_connection_changed() returns trigger
    language plpgsql security invoker set search_path = identity, pg_temp
    as $$
begin
    perform pg_notify('kutamo_connections', '');
    return null;
end
$$;
create trigger connection_changed after insert or update or delete or truncate on identity.azure_ad_connections
    for each statement execute function identity.notify_connection_changed();
create trigger connection_changed after insert or update or delete or truncate on identity.tenants
    for each statement execute function identity.notify_connection_changed();
create trigger connection_changed after insert or update or delete or truncate on identity.login_codes
    for each statement execute function identity.notify_connection_changed();
