-- Issue 13: the service logs in as a role that is neither superuser nor BYPASSRLS (kutamo_identity in
-- the local stack and docker-compose). Its tables force row-level security on their owner too, so the
-- look-ups that must run before a tenant is known, with the owner's rights (security definer), now
-- also act as an operator for their own duration; without this they would see nothing.
alter function identity.resolve_login_code(text) set kutamo.operator = 'on';
alter function identity.authenticate_api_key(bytea) set kutamo.operator = 'on';
alter function identity.release_expired_login_code(text) set kutamo.operator = 'on';
alter function identity.find_setup_link(bytea) set kutamo.operator = 'on';
alter function identity.authenticate_setup_session(bytea, timestamptz) set kutamo.operator = 'on';

