-- The provisioning schema: users as Kutamo knows them, their avatars, and the events already applied.

create table provisioning.avatars (
    sha256 text primary key,
    content_type text not null,
    bytes bytea not null,
    created_at timestamptz not null
);

-- Only what the product promises to keep: name, email, title, avatar, the (tid, oid) link and
-- sign-in times. signed_in_at is the version: an older sign-in never overwrites a newer one.
create table provisioning.users (
    user_id uuid primary key,
    tenant_id uuid not null,
    azure_tid uuid not null,
    azure_oid uuid not null,
    name text,
    email text,
    title text,
    avatar_sha256 text references provisioning.avatars (sha256),
    signed_in_at timestamptz not null,
    source_event_id uuid not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create index users_tenant on provisioning.users (tenant_id);

create table provisioning.processed_events (
    event_id uuid primary key,
    outcome text not null,
    processed_at timestamptz not null
);
