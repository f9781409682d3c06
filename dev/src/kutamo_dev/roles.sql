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

-- A database whose schemas were created before the services had roles of their own (by the superuser
-- they logged in as then): hand each schema, and everything in it, to its service's role.
do $$
declare
    s text;
    r text;
    o record;
begin
    foreach s in array array['identity', 'provisioning'] loop
        r := 'kutamo_' || s;
        if not exists (select from pg_namespace where nspname = s) then
            continue;
        end if;
        execute format('alter schema %I owner to %I', s, r);
        for o in
            select format('alter %s %I.%I owner to %I',
                          case c.relkind when 'S' then 'sequence' else 'table' end, s, c.relname, r) as sql
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = s and c.relkind in ('r', 'S', 'p')
              and pg_get_userbyid(c.relowner) <> r
              and not (c.relkind = 'S' and exists (select from pg_depend d where d.objid = c.oid and d.deptype in ('a', 'i')))
            union all
            select format('alter function %s owner to %I', p.oid::regprocedure, r)
            from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where n.nspname = s and pg_get_userbyid(p.proowner) <> r
        loop
            execute o.sql;
        end loop;
    end loop;
end
$$;
