-- Issue 13: the service logs in as a role that is neither superuser nor BYPASSRLS (kutamo_identity in
-- the local stack and docker-compose), which owns this schema. Requests run as kutamo_identity_app and
-- stay confined by row-level security. The owner's own work (migrations, the relay's outbox, and the
-- security-definer look-ups that must run before a tenant is known: login codes, API keys, setup links)
-- needs every row; FORCE ROW LEVEL SECURITY, harmless while the owner was a superuser, would now hide
-- them all, so the owner is exempt again, as PostgreSQL makes table owners by default. It runs after every
-- migration that forced row-level security on a new table (0009-0012); a later table should enable row-level
-- security without FORCE.
do $$
declare
    t text;
begin
    for t in select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = 'identity' and c.relkind = 'r' and c.relforcerowsecurity
    loop
        execute format('alter table identity.%I no force row level security', t);
    end loop;
end
$$;

-- Erasure (an operator's request, as the app role) deletes a user's published events too.
grant select, delete on identity.outbox_published to kutamo_identity_app;
