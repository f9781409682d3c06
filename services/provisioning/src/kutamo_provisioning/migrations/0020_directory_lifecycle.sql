-- Issue 16: the customer's directory (SCIM, through the identity service's lifecycle events) creates,
-- deactivates, reactivates and deletes users. `directory_version` is the version of the last applied
-- lifecycle event (an older one never overwrites a newer one); a deleted user stays as a tombstone
-- without personal data, so a sign-in event still in flight cannot bring the data back. A user the
-- directory created has no sign-in yet (signed_in_at null).
alter table provisioning.users
    add column active boolean not null default true,
    add column deleted_at timestamptz,
    add column directory_version bigint not null default 0,
    add column directory_changed_at timestamptz,
    alter column signed_in_at drop not null;
