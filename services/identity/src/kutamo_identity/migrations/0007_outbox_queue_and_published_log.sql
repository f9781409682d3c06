-- The outbox becomes a queue of waiting rows only. Publishing moves a row into outbox_published, which
-- keeps it for the retention period: a delete plus an append to a table with one time-ordered index
-- cost about a third of the update (a new row version and three index entries) that marked rows before.
-- Headers are kept as the bytes of their JSON text ([["name", "value"], ...]), so the relay's read
-- converts no jsonb. Instances of an older release must be stopped before this runs: their writer
-- sends headers as text and their relay marks rows by a column that is gone.
drop index identity.outbox_published_at;
create table identity.outbox_published (
    id bigint not null,
    event_id uuid not null,
    topic text not null,
    key bytea not null,
    value bytea not null,
    headers bytea not null,
    created_at timestamptz not null,
    published_at timestamptz not null
);
-- Rows arrive in publishing order: each insert appends to the index's last page.
create index outbox_published_at on identity.outbox_published (published_at);

insert into identity.outbox_published (id, event_id, topic, key, value, headers, created_at, published_at)
select id, event_id, topic, key, value, convert_to(headers::text, 'UTF8'), created_at, published_at
from identity.outbox where published_at is not null order by published_at;
delete from identity.outbox where published_at is not null;

-- Every row left is waiting: the primary key is the index in id order the relay walks.
drop index identity.outbox_unpublished;
alter table identity.outbox drop column published_at;
alter table identity.outbox alter column headers type bytea using convert_to(headers::text, 'UTF8');
