-- Each connection says which of Microsoft's browser flows its login page runs: the implicit flow the
-- help page describes (id_token + Graph token in the fragment), or authorization code with PKCE.
alter table identity.azure_ad_connections
    add column sign_in_flow text not null default 'implicit' check (sign_in_flow in ('implicit', 'pkce'));
