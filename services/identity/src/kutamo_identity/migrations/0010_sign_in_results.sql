-- The setup page shows a tenant's last sign-ins: who got in (the name from their validated token,
-- which the seed allows keeping) and which attempts at its login code were refused, and why. A
-- refusal keeps only its time and code, nothing from the token; the newest 100 per tenant are kept.
alter table identity.sign_ins add column name text;
create index sign_ins_by_tenant on identity.sign_ins (tenant_id, signed_in_at desc);

create table identity.sign_in_refusals (
    id bigserial primary key,
    tenant_id uuid not null references identity.tenants (id) on delete cascade,
    at timestamptz not null,
    code text not null
);
create index sign_in_refusals_by_tenant on identity.sign_in_refusals (tenant_id, id desc);

grant select, insert, update, delete on identity.sign_in_refusals to kutamo_identity_app;
grant usage, select on sequence identity.sign_in_refusals_id_seq to kutamo_identity_app;

alter table identity.sign_in_refusals enable row level security;
alter table identity.sign_in_refusals force row level security;
create policy tenant_isolation on identity.sign_in_refusals
    using (tenant_id = identity.current_tenant() or identity.is_operator())
    with check (tenant_id = identity.current_tenant() or identity.is_operator());
