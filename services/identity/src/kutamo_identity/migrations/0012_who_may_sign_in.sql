-- Who may sign in, and proof of it (issue 13, decision 0008).
-- A directory a tenant admin enters is only *proposed* until a verification sign-in from exactly that
-- directory pins it; one (application, directory) pair is pinned by one tenant unless an operator
-- approved another; guests are refused unless the connection allows them; a connection an operator
-- disabled stays off until an operator enables it; operators' own actions are audited without a tenant.

alter table identity.azure_ad_connections
    add column proposed_directory_id uuid,
    add column allow_guests boolean not null default false,
    add column disabled_by_operator boolean not null default false;

-- Who created a verification code: the audit entry of the pinning names it (never the code itself).
alter table identity.verification_codes add column created_by text;

-- An operator's approval that this tenant may pin a directory already pinned by another tenant for the
-- same application (e.g. one organisation split across two Kutamo tenants).
create table identity.directory_approvals (
    tenant_id uuid not null references identity.tenants (id) on delete cascade,
    application_id uuid not null,
    directory_id uuid not null,
    approved_at timestamptz not null,
    approved_by text not null,
    primary key (tenant_id, application_id, directory_id)
);
grant select, insert, update, delete on identity.directory_approvals to kutamo_identity_app;
alter table identity.directory_approvals enable row level security;
alter table identity.directory_approvals force row level security;
create policy tenant_isolation on identity.directory_approvals
    using (tenant_id = identity.current_tenant() or identity.is_operator())
    with check (tenant_id = identity.current_tenant() or identity.is_operator());

create index azure_ad_connections_binding on identity.azure_ad_connections (application_id, directory_id)
    where directory_id is not null;

-- Whether another tenant has pinned this (application, directory) pair. The other tenants' rows are
-- invisible under row-level security, so this runs with the owner's rights and answers only yes or no.
-- The transaction-scoped advisory lock serialises two tenants pinning one pair at the same moment.
create function identity.directory_bound_elsewhere(app uuid, dir uuid, tenant uuid) returns boolean
    language plpgsql volatile security definer set search_path = identity, pg_temp
    as $$
    begin
        perform pg_advisory_xact_lock(hashtextextended(app::text || '/' || dir::text, 0));
        return exists (
            select from identity.azure_ad_connections
            where application_id = app and directory_id = dir and tenant_id <> tenant
        );
    end
    $$;
grant execute on function identity.directory_bound_elsewhere(uuid, uuid, uuid) to kutamo_identity_app;

-- Operators' own actions (their keys) belong to no tenant: the audit stream takes entries without one,
-- visible to operators only (the policy admits a null tenant_id only with the operator flag).
alter table identity.audit_log alter column tenant_id drop not null;
create index audit_log_by_id on identity.audit_log (id desc);
