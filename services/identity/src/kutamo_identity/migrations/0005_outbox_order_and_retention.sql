-- The outbox relay keeps one user's events in order (it looks for an earlier unpublished row of the
-- same key before publishing a row) and deletes published rows after the retention period.
create index outbox_unpublished_key on identity.outbox (key, id) where published_at is null;
create index outbox_published_at on identity.outbox (published_at) where published_at is not null;
