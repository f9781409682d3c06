"""A local stand-in for Microsoft's login (Entra ID) and Graph endpoints, for tests and the demo.

Interactive sign-in (the popup a login page opens), authority = `<emulator URL>/<tenant>` where
tenant is a directory GUID, `organizations` or `common`:

    POST /_emulator/applications   {client_id, home_tid, display_name="Kutamo",
                                    sign_in_audience="single"|"multi", redirect_uris=[{uri, type: spa|web}],
                                    implicit_id_tokens=true, implicit_access_tokens=true,
                                    propagation_delay_seconds=0}  -> 200, the registration (+ registered_at,
                                    visible_at, propagated); replacing restarts the delay
    GET  /_emulator/applications/{client_id}   404 problem when unknown; /_emulator/reset forgets apps,
                                    consents, flows and codes
    GET  /{tenant}/oauth2/v2.0/authorize       checks, then the account picker
    POST /{tenant}/oauth2/v2.0/authorize       the picker's form -> consent page, error page or redirect
    POST /{tenant}/oauth2/v2.0/consent         the consent form -> redirect
    POST|OPTIONS /{tenant}/oauth2/v2.0/token   code + PKCE redemption, CORS for any Origin

Shown on Microsoft's error page (status 200, no redirect), in this order: 90002 unknown tenant
segment; 900144 client_id missing; 700016 unknown app, app still propagating, or a single-tenant app
asked for at another directory's GUID; 900144 redirect_uri missing; 50011 redirect URI not registered
(exact match); 50194 single-tenant app at organizations/common; after the picker, 50020 for a typed
account from another directory than a GUID tenant (at organizations/common: a personal account);
50089 for a flow token that is unknown, used or older than 15 minutes.
Redirected back (fragment for implicit, query for code, else as response_mode query|fragment says;
form_post is not emulated and falls back to the default) with error, error_description (with Trace
ID, Correlation ID, Timestamp lines), error_uri and state: 900144 response_type missing; 70005
response_type not `id_token token`, `id_token` or `code`; 700054 id_token not enabled; 700051 token
not enabled; 9002325 code without an S256 code_challenge; 90014 nonce missing with id_token; 900144
scope missing; 65004 access_denied when consent is cancelled.
There is no sign-in session: the picker shows every time (prompt only matters as prompt=consent).
Consent is asked once per (tid, oid, client_id). Granted scopes are always "User.Read openid profile
email". Module docstrings of authorize.py, token_endpoint.py and signin_pages.py give the rest.
"""

from kutamo_dev.emulator.app import create_app

__all__ = ["create_app"]
