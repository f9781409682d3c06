-- Issue 13: public endpoints write nothing. Login nonces are now stateless (an HMAC over tenant,
-- expiry and randomness, signin/nonces.py); only a consumed nonce is recorded, by the sign-in that
-- uses it, so a replay hits the primary key. Nonces handed out before this migration are refused
-- (nonce_invalid) and the person signs in again from a freshly loaded page.
drop table identity.login_nonces;

create table identity.consumed_nonces (
    nonce_hash bytea primary key,
    tenant_id uuid not null references identity.tenants (id) on delete cascade,
    consumed_at timestamptz not null,
    expires_at timestamptz not null
);
create index consumed_nonces_expiry on identity.consumed_nonces (expires_at);

grant select, insert, delete on identity.consumed_nonces to kutamo_identity_app;

alter table identity.consumed_nonces enable row level security;
alter table identity.consumed_nonces force row level security;
create policy tenant_isolation on identity.consumed_nonces
    using (tenant_id = identity.current_tenant() or identity.is_operator())
    with check (tenant_id = identity.current_tenant() or identity.is_operator());
