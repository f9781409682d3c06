-- Where a user's email came from and whether it is a verified address (issue 13): announced with the
-- user so no consumer links accounts by an address nobody verified. Existing rows: unknown source, unverified.
alter table provisioning.users
    add column email_source text,
    add column email_verified boolean not null default false;
