-- The outbox keeps each announcement as the record Kafka will carry, packed with MessagePack (key,
-- value and headers as raw bytes): written with COPY, read back without JSON parsing on either side.
-- Rows already waiting in the 0003 format keep their `envelope` and are relayed as they are.

alter table provisioning.outbox
    add column record bytea,
    alter column envelope drop not null,
    add constraint outbox_record_or_envelope check (record is not null or envelope is not null);
