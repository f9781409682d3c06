"""Microsoft Graph, read with the user's delegated token: the profile and the photo.

Throttling (429) waits the Retry-After Microsoft asks for (bounded); server errors and timeouts are
retried a few times, then reported as RetryLater. An expired or refused token is not an error of the
event: the worker then provisions from the token's claims alone.
"""

import asyncio
import logging

import httpx
import msgspec

from kutamo_provisioning.errors import RetryLater

log = logging.getLogger(__name__)

PROFILE_FIELDS = "id,displayName,mail,userPrincipalName,jobTitle"
_ATTEMPTS = 3
_MAX_RETRY_AFTER = 30.0


class Profile(msgspec.Struct, frozen=True, rename="camel"):
    id: str
    display_name: str | None = None
    mail: str | None = None
    user_principal_name: str | None = None
    job_title: str | None = None


class Photo(msgspec.Struct, frozen=True):
    content_type: str
    data: bytes


class TokenRefused(Exception):
    """Graph answered 401/403: the delegated token is expired, revoked or lacks User.Read."""


class GraphClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, avatar_max_bytes: int) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._avatar_max = avatar_max_bytes

    async def profile(self, token: str) -> Profile:
        response = await self._get(f"/v1.0/me?$select={PROFILE_FIELDS}", token, "me")
        try:
            return msgspec.json.decode(response.content, type=Profile)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise RetryLater("graph_bad_answer", "Graph answered /me with an unexpected body") from exc

    async def photo(self, token: str) -> Photo | None:
        """The user's photo, or None when they have none (404) or it is larger than allowed."""
        response = await self._get("/v1.0/me/photo/$value", token, "photo", missing_ok=True)
        if response.status_code == 404:
            return None
        if len(response.content) > self._avatar_max:
            log.warning("avatar too large, skipped", extra={"bytes": len(response.content)})
            return None
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        return Photo(content_type=content_type, data=response.content)

    async def _get(self, path: str, token: str, endpoint: str, *, missing_ok: bool = False) -> httpx.Response:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                response = await self._http.get(self._base + path, headers={"Authorization": f"Bearer {token}"})
            except httpx.TransportError as exc:
                log.warning("graph request failed", extra={"endpoint": endpoint, "error": type(exc).__name__})
                await asyncio.sleep(0.2 * attempt)
                continue
            if response.status_code in (401, 403):
                raise TokenRefused(endpoint)
            if response.status_code == 429 or response.status_code >= 500:
                wait = _retry_after(response, default=0.2 * attempt)
                log.warning(
                    "graph asked to retry",
                    extra={"endpoint": endpoint, "status": response.status_code, "wait_s": wait},
                )
                await asyncio.sleep(wait)
                continue
            if response.status_code == 404 and missing_ok:
                return response
            if response.is_success:
                return response
            raise RetryLater("graph_error", f"Graph answered {endpoint} with HTTP {response.status_code}")
        raise RetryLater("graph_unavailable", f"Graph did not answer {endpoint} after {_ATTEMPTS} attempts")


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return min(float(response.headers.get("retry-after", default)), _MAX_RETRY_AFTER)
    except ValueError:
        return default
