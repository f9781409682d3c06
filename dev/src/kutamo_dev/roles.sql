-- The roles the services log in as, in the local stack, the tests and docker-compose
-- (dev/postgres/init-roles.sh); run by a superuser on the services' database, repeatably.
--
-- kutamo_identity and kutamo_provisioning log in: neither superuser nor BYPASSRLS, no CREATEROLE or
-- CREATEDB; each creates and owns its own schema (CREATE on this database) and runs its migrations.
-- Their connections then act as kutamo_identity_app / kutamo_provisioning_app (the pool's `role`),
-- which row-level security confines to the tenant of the transaction. Each login role holds its app
-- role WITH ADMIN OPTION so the migrations' `grant ... to current_user` needs no further privilege.
do $$
declare
    r text;
begin
    foreach r in array array['kutamo_identity', 'kutamo_provisioning'] loop
        if not exists (select from pg_roles where rolname = r) then
            execute format('create role %I login nosuperuser nobypassrls nocreatedb nocreaterole', r);
        end if;
        if not exists (select from pg_roles where rolname = r || '_app') then
            execute format('create role %I nologin nosuperuser nobypassrls', r || '_app');
        end if;
        execute format('grant %I to %I with admin option', r || '_app', r);
        execute format('grant create, connect, temporary on database %I to %I', current_database(), r);
    end loop;
end
$$;
