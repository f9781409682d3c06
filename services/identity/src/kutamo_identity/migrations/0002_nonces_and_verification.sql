-- Single-use login nonces handed out with the login page, and single-use codes for the verification
-- sign-in that pins a pending connection to the Azure directory it came from. Only hashes are kept.

create table identity.login_nonces (
    nonce_hash bytea primary key,
    tenant_id uuid not null references identity.tenants (id) on delete cascade,
    created_at timestamptz not null,
    expires_at timestamptz not null,
    used_at timestamptz
);
create index login_nonces_expiry on identity.login_nonces (expires_at);

create table identity.verification_codes (
    code_hash bytea primary key,
    tenant_id uuid not null references identity.tenants (id) on delete cascade,
    created_at timestamptz not null,
    expires_at timestamptz not null,
    used_at timestamptz,
    pinned_directory_id uuid
);
