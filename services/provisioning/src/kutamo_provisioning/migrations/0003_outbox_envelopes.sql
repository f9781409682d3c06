-- The outbox keeps each announcement as one Envelope document (key, value, headers; bytes as
-- base64): written from a batch as one JSON parameter and read back by the relay in one decode.
-- Rows already waiting are converted, not dropped.

alter table provisioning.outbox add column envelope jsonb;
update provisioning.outbox set envelope = jsonb_build_object(
    'topic', topic,
    'key', translate(encode(key, 'base64'), E'\n', ''),
    'value', translate(encode(value, 'base64'), E'\n', ''),
    'headers', (
        select coalesce(jsonb_agg(jsonb_build_array(h ->> 0, translate(encode(convert_to(h ->> 1, 'UTF8'), 'base64'), E'\n', ''))), '[]')
        from jsonb_array_elements(headers) as h
    )
);
alter table provisioning.outbox
    alter column envelope set not null,
    drop column key,
    drop column value,
    drop column headers;

-- users_tenant_user (tenant_id, user_id) serves every lookup users_tenant did.
drop index provisioning.users_tenant;
