-- The identity schema: tenants, their Azure AD connections, linked identities, sign-ins,
-- the transactional outbox and the public halves of session signing keys.

create table identity.tenants (
    id uuid primary key,
    display_name text not null,
    created_at timestamptz not null
);

create table identity.azure_ad_connections (
    tenant_id uuid primary key references identity.tenants (id) on delete cascade,
    application_id uuid not null,
    login_code text not null,
    user_note text,
    -- The Azure directory allowed to sign in; null until pinned (status pending_verification).
    directory_id uuid,
    status text not null check (status in ('pending_verification', 'active', 'disabled')),
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create unique index azure_ad_connections_login_code_key on identity.azure_ad_connections (lower(login_code));

-- A person is linked by (tenant, Azure tid, Azure oid), never by email.
create table identity.identities (
    user_id uuid primary key,
    tenant_id uuid not null references identity.tenants (id) on delete cascade,
    azure_tid uuid not null,
    azure_oid uuid not null,
    created_at timestamptz not null,
    last_signed_in_at timestamptz not null,
    unique (tenant_id, azure_tid, azure_oid)
);

create table identity.sign_ins (
    event_id uuid primary key,
    tenant_id uuid not null references identity.tenants (id) on delete cascade,
    user_id uuid not null references identity.identities (user_id) on delete cascade,
    signed_in_at timestamptz not null
);
create index sign_ins_user on identity.sign_ins (user_id, signed_in_at);

-- Events wait here, written in the same transaction as the sign-in, until the relay publishes them.
-- xid records the writing transaction so the relay reads rows in commit order (see outbox/relay.py).
create table identity.outbox (
    id bigserial primary key,
    event_id uuid not null unique,
    topic text not null,
    key bytea not null,
    value bytea not null,
    headers jsonb not null,
    created_at timestamptz not null,
    xid xid8 not null default pg_current_xact_id(),
    published_at timestamptz
);
create index outbox_unpublished on identity.outbox (id) where published_at is null;

-- Public halves of session signing keys, published at /.well-known/jwks.json. Private halves never
-- leave the process that made them.
create table identity.session_keys (
    kid text primary key,
    public_jwk jsonb not null,
    created_at timestamptz not null,
    retire_after timestamptz not null
);
