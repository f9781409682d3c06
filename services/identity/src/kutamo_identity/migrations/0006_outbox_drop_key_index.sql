-- The relay now finds a key's earlier rows above the horizon within the batch it reads (they can only
-- be there: they have lower ids and are unpublished), so the per-key index of 0005 is not read.
drop index identity.outbox_unpublished_key;
