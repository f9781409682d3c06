"""Microsoft's AADSTS sign-in errors: the catalogue the login endpoints use and the shapes they travel in.

One error reaches a client three ways: on Microsoft's own error page, as `error`/`error_description`
parameters of a redirect back to the app, or as the token endpoint's JSON body. Each carries the
Trace ID, Correlation ID and Timestamp lines Microsoft appends.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from kutamo_dev.emulator.authority import LOGIN_HOST

__all__ = [
    "AadError",
    "Trace",
    "app_not_found",
    "code_expired",
    "code_malformed",
    "code_mismatch",
    "code_redeemed",
    "consent_declined",
    "cross_origin_not_spa",
    "flow_expired",
    "id_token_disabled",
    "json_body",
    "missing_parameter",
    "nonce_missing",
    "not_multi_tenant",
    "pkce_required",
    "redirect_mismatch",
    "redirect_params",
    "spa_needs_cross_origin",
    "tenant_not_found",
    "token_disabled",
    "unsupported_grant_type",
    "unsupported_response_type",
    "user_not_in_tenant",
    "verifier_mismatch",
]


@dataclass(frozen=True, slots=True)
class AadError:
    """One AADSTS error: its number, the OAuth `error` value and Microsoft's sentence."""

    code: int
    error: str
    message: str

    @property
    def headline(self) -> str:
        """`AADSTSnnnn: message`, the first line of every description."""
        return f"AADSTS{self.code}: {self.message}"

    @property
    def uri(self) -> str:
        """Microsoft's help link for the code."""
        return f"{LOGIN_HOST}/error?code={self.code}"


@dataclass(frozen=True, slots=True)
class Trace:
    """The request identifiers Microsoft prints under every error."""

    trace_id: str
    correlation_id: str
    timestamp: str

    @classmethod
    def new(cls, now: float, client_request_id: str | None = None) -> Trace:
        """Fresh ids; like Microsoft, the correlation id echoes the client's `client-request-id` GUID."""
        try:
            correlation = str(uuid.UUID(client_request_id or ""))
        except ValueError:
            correlation = str(uuid.uuid4())
        moment = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return cls(trace_id=str(uuid.uuid4()), correlation_id=correlation, timestamp=moment)

    def describe(self, error: AadError) -> str:
        """Microsoft's `error_description`: the headline, then the trace lines separated by CRLF."""
        return (
            f"{error.headline}\r\nTrace ID: {self.trace_id}\r\n"
            f"Correlation ID: {self.correlation_id}\r\nTimestamp: {self.timestamp}"
        )


def redirect_params(error: AadError, trace: Trace, state: str | None) -> dict[str, str]:
    """The parameters of an error redirected back to the app's redirect URI."""
    params = {"error": error.error, "error_description": trace.describe(error), "error_uri": error.uri}
    if state is not None:
        params["state"] = state
    return params


def json_body(error: AadError, trace: Trace) -> dict[str, Any]:
    """The token endpoint's error document."""
    return {
        "error": error.error,
        "error_description": trace.describe(error),
        "error_codes": [error.code],
        "timestamp": trace.timestamp,
        "trace_id": trace.trace_id,
        "correlation_id": trace.correlation_id,
        "error_uri": error.uri,
    }


# Microsoft's sentences, word for word where Microsoft's are known.


def tenant_not_found(segment: str) -> AadError:
    return AadError(90002, "invalid_tenant", (
        f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing "
        "into the correct cloud. Check with your subscription administrator, this may happen if there are "
        "no active subscriptions for the tenant."
    ))  # fmt: skip


def app_not_found(client_id: str, tenant: str) -> AadError:
    return AadError(700016, "unauthorized_client", (
        f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can "
        "happen if the application has not been installed by the administrator of the tenant or consented "
        "to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
    ))  # fmt: skip


def redirect_mismatch(uri: str, client_id: str) -> AadError:
    return AadError(50011, "invalid_request", (
        f"The redirect URI '{uri}' specified in the request does not match the redirect URIs configured for "
        f"the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to "
        "your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn "
        "more about how to fix this."
    ))  # fmt: skip


def not_multi_tenant(client_id: str, name: str) -> AadError:
    return AadError(50194, "invalid_request", (
        f"Application '{client_id}'({name}) is not configured as a multi-tenant application. Usage of the "
        "/common endpoint is not supported for such applications created after '10/15/2018'. Use a "
        "tenant-specific endpoint or configure the application to be multi-tenant."
    ))  # fmt: skip


def user_not_in_tenant(upn: str, user_tid: str, tenant: str, client_id: str, name: str) -> AadError:
    return AadError(50020, "invalid_request", (
        f"User account '{upn}' from identity provider 'https://sts.windows.net/{user_tid}/' does not exist in "
        f"tenant '{tenant}' and cannot access the application '{client_id}'({name}) in that tenant. The "
        "account needs to be added as an external user in the tenant first. Sign out and sign in again with a "
        "different Azure Active Directory user account."
    ))  # fmt: skip


def missing_parameter(name: str) -> AadError:
    return AadError(900144, "invalid_request", f"The request body must contain the following parameter: '{name}'.")


def unsupported_response_type(value: str) -> AadError:
    return AadError(70005, "unsupported_response_type", f"response_type '{value}' is not supported.")


def id_token_disabled() -> AadError:
    return AadError(700054, "invalid_request", "response_type 'id_token' is not enabled for the application.")


def token_disabled() -> AadError:
    return AadError(700051, "unsupported_response_type", "response_type 'token' is not enabled for the application.")


def pkce_required() -> AadError:
    return AadError(9002325, "invalid_request", (
        "Proof Key for Code Exchange is required for cross-origin authorization code redemption."
    ))  # fmt: skip


def nonce_missing() -> AadError:
    return AadError(90014, "invalid_request", "The required field 'nonce' is missing.")


def consent_declined() -> AadError:
    return AadError(65004, "access_denied", "User declined to consent to access the app.")


def flow_expired() -> AadError:
    return AadError(50089, "invalid_request", (
        "Authentication failed due to flow token expired. Expected - auth codes, refresh tokens, and sessions "
        "expire over time or are revoked by the user or an admin. The app will request a new login from the user."
    ))  # fmt: skip


def cross_origin_not_spa(origin: str) -> AadError:
    return AadError(9002326, "invalid_request", (
        "Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type. "
        f"Request origin: '{origin}'."
    ))  # fmt: skip


def spa_needs_cross_origin() -> AadError:
    return AadError(9002327, "invalid_request", (
        "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests."
    ))  # fmt: skip


def unsupported_grant_type(value: str) -> AadError:
    return AadError(70003, "unsupported_grant_type", f"The app requested an unsupported grant type '{value}'.")


def code_malformed() -> AadError:
    return AadError(9002313, "invalid_grant", "Invalid request. Request is malformed or invalid.")


def code_redeemed() -> AadError:
    return AadError(54005, "invalid_grant", (
        "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing "
        "refresh token."
    ))  # fmt: skip


def code_expired() -> AadError:
    return AadError(70008, "invalid_grant", (
        "The provided authorization code or refresh token has expired due to inactivity. Send a new "
        "interactive authorization request for this user and resource."
    ))  # fmt: skip


def code_mismatch(parameter: str) -> AadError:
    return AadError(70002, "invalid_grant", (
        f"The provided value for '{parameter}' does not match the value used to obtain the authorization code."
    ))  # fmt: skip


def verifier_mismatch() -> AadError:
    return AadError(50148, "invalid_grant", (
        "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE."
    ))  # fmt: skip
