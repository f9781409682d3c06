-- Issue 5: whether title and avatar came from Graph on the last applied sign-in, and the outbox that
-- makes the "user provisioned" announcement as durable as the user record it describes.

alter table provisioning.users
    add column profile_refreshed boolean not null default true,
    add column not_refreshed_reason text,
    add column profile_refreshed_at timestamptz;

create index users_tenant_user on provisioning.users (tenant_id, user_id);

-- Rows are written in the transaction that applies a batch and deleted once Kafka acknowledged them.
-- xid lets the relay read only rows whose transactions are all finished (pg_snapshot_xmin), so a
-- late-committing row is never overtaken by a later one of the same user.
create table provisioning.outbox (
    id bigserial primary key,
    xid xid8 not null default pg_current_xact_id(),
    topic text not null,
    key bytea not null,
    value bytea not null,
    headers jsonb not null,
    created_at timestamptz not null
);
