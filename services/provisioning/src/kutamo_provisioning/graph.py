"""Microsoft Graph, read with the user's delegated token: the profile and the photo.

Throttling (429) waits the Retry-After Microsoft asks for; 5xx and timeouts back off exponentially.
Both are bounded (attempts and the longest wait), then reported as GraphFailed, which dead-letters the
event. An expired or refused token (401/403) is not an error of the event: the worker then provisions
from the id_token's claims alone.
"""

import asyncio
import logging

import httpx
import msgspec

from kutamo_provisioning.errors import GraphFailed
from kutamo_provisioning.metrics import Metrics

log = logging.getLogger(__name__)

PROFILE_FIELDS = "id,displayName,mail,userPrincipalName,jobTitle"
PHOTO_PATH = "/v1.0/me/photos/648x648/$value"
ATTEMPTS = 4
MAX_RETRY_AFTER = 30.0
_BACKOFF = 0.25


class Profile(msgspec.Struct, frozen=True, rename="camel"):
    id: str
    display_name: str | None = None
    mail: str | None = None
    user_principal_name: str | None = None
    job_title: str | None = None


class Photo(msgspec.Struct, frozen=True):
    content_type: str
    data: bytes


class _Answer(msgspec.Struct, frozen=True):
    status: int
    content_type: str = ""
    body: bytes = b""
    retry_after: float | None = None


class TokenRefused(Exception):
    """Graph answered 401/403: the delegated token is expired, revoked or lacks User.Read."""


class PhotoTooLarge(Exception):
    """The photo is larger than AVATAR_MAX_BYTES; the download was cut off."""


class GraphClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, avatar_max_bytes: int, metrics: Metrics) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._avatar_max = avatar_max_bytes
        self._metrics = metrics

    async def profile(self, token: str) -> Profile:
        try:
            body = await self._get(f"/v1.0/me?$select={PROFILE_FIELDS}", token, "me")
        except PhotoTooLarge as exc:
            raise GraphFailed("graph_bad_answer", "Graph answered /me with an oversized body") from exc
        if body is None:
            raise GraphFailed("graph_error", "Graph answered /me with HTTP 404")
        try:
            return msgspec.json.decode(body[1], type=Profile)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise GraphFailed("graph_bad_answer", "Graph answered /me with an unexpected body") from exc

    async def photo(self, token: str) -> Photo | None:
        """The user's photo, or None when they have none (404). PhotoTooLarge past the size limit."""
        body = await self._get(PHOTO_PATH, token, "photo")
        if body is None:
            return None
        content_type, data = body
        self._metrics.avatar_bytes.inc(len(data))
        return Photo(content_type=content_type, data=data)

    async def _get(self, path: str, token: str, endpoint: str) -> tuple[str, bytes] | None:
        """(content type, body) of a 2xx answer, None for 404; retries as the module says."""
        for attempt in range(1, ATTEMPTS + 1):
            wait = _BACKOFF * 2 ** (attempt - 1)
            try:
                answer = await self._once(path, token, endpoint)
            except httpx.TransportError as exc:
                self._metrics.graph_calls.labels(endpoint, "timeout" if _is_timeout(exc) else "error").inc()
                reason = type(exc).__name__
            else:
                if answer.status == 404:
                    return None
                if answer.status < 300:
                    return answer.content_type, answer.body
                if answer.status == 429 and answer.retry_after is not None:
                    wait = answer.retry_after
                    self._metrics.graph_throttle_seconds.labels(endpoint).inc(wait)
                reason = f"http_{answer.status}"
            if attempt == ATTEMPTS:
                break
            self._metrics.graph_retries.labels(endpoint, reason).inc()
            log.warning("graph call will be retried", extra={"endpoint": endpoint, "why": reason, "wait_s": wait})
            await asyncio.sleep(wait)
        raise GraphFailed("graph_unavailable", f"Graph kept failing on {endpoint} ({reason}) after {ATTEMPTS} attempts")

    async def _once(self, path: str, token: str, endpoint: str) -> "_Answer":
        headers = {"Authorization": f"Bearer {token}"}
        async with self._http.stream("GET", self._base + path, headers=headers) as response:
            status = response.status_code
            self._metrics.graph_calls.labels(endpoint, str(status)).inc()
            if status in (401, 403):
                raise TokenRefused(endpoint)
            if status == 404:
                return _Answer(status)
            if status == 429 or status >= 500:
                return _Answer(status, retry_after=_retry_after(response))
            if not response.is_success:
                raise GraphFailed("graph_error", f"Graph answered {endpoint} with HTTP {status}")
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            return _Answer(200, content_type, await self._read(response, endpoint))

    async def _read(self, response: httpx.Response, endpoint: str) -> bytes:
        limit = self._avatar_max if endpoint == "photo" else 1024 * 1024
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise PhotoTooLarge(endpoint)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise PhotoTooLarge(endpoint)
            chunks.append(chunk)
        return b"".join(chunks)


def _is_timeout(exc: httpx.TransportError) -> bool:
    return isinstance(exc, httpx.TimeoutException)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return min(max(float(response.headers["retry-after"]), 0.0), MAX_RETRY_AFTER)
    except (KeyError, ValueError):
        return None
