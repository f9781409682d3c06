-- A login code whose rename grace period is over belongs to nobody, even though its row (owned by the
-- old tenant) is invisible to the tenant claiming it: this function, with the owner's rights, frees it.
create function identity.release_expired_login_code(code text) returns void
    language sql volatile security definer set search_path = identity, pg_temp
    as $$
        delete from identity.login_codes
        where code_lower = lower(code) and not is_current and expires_at <= now()
    $$;
grant execute on function identity.release_expired_login_code(text) to kutamo_identity_app;
