"""CloudEvents 1.0 binary content mode on Kafka: attributes in `ce_*` headers, JSON payload as the value.

Per the CloudEvents Kafka protocol binding: every context attribute is a header named `ce_<attribute>`
with its value as UTF-8 bytes, and `datacontenttype` travels as the `content-type` header. Required:
specversion, id, source, type; we always add time, subject (the Kutamo user id) and dataschema (the
`$id` of the payload's published JSON Schema). The W3C `traceparent` header rides along when the
request had one. The record key is the Kutamo user id, so one user's events stay in order on one
partition.
"""

import functools
from datetime import UTC, datetime
from typing import TypeVar

import msgspec

from kutamo_contracts.topics import Topic

SOURCE_IDENTITY = "urn:kutamo:identity"
SOURCE_PROVISIONING = "urn:kutamo:provisioning"
CONTENT_TYPE = "application/json"
_CONTENT_TYPE = CONTENT_TYPE.encode()

T = TypeVar("T", bound=msgspec.Struct)

_encoder = msgspec.json.Encoder()


class EnvelopeError(ValueError):
    """A Kafka record is not a well-formed Kutamo CloudEvent."""


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """What travels on Kafka: key, headers and value, ready for aiokafka."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def encode_record(
    topic: Topic,
    payload: msgspec.Struct,
    *,
    event_id: str,
    subject: str,
    source: str,
    time: datetime,
    traceparent: str | None = None,
    topic_name: str | None = None,
) -> Envelope:
    """The record for `payload` on `topic` (or on `topic_name`, a topic of the same contract under another
    name: a test's or a benchmark's)."""
    event_type, dataschema = _constants(topic)
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", event_id.encode()),
        ("ce_type", event_type),
        ("ce_source", source.encode()),
        ("ce_time", _time(time)),
        ("ce_subject", subject.encode()),
        ("ce_dataschema", dataschema),
        ("content-type", _CONTENT_TYPE),
    ]
    if traceparent:
        headers.append(("traceparent", traceparent.encode()))
    return Envelope(
        topic=topic_name or topic.name, key=subject.encode(), value=_encoder.encode(payload), headers=headers
    )


@functools.lru_cache(maxsize=64)
def _constants(topic: Topic) -> tuple[bytes, bytes]:
    """The header values a topic's records share (its event type and schema), encoded once."""
    return topic.event_type.encode(), topic.dataschema.encode()


@functools.lru_cache(maxsize=256)
def _time(time: datetime) -> bytes:
    """`ce_time` as RFC 3339 in UTC; cached, as a batch stamps its records with one time."""
    return time.astimezone(UTC).isoformat().encode()


def header_map(headers: object) -> dict[str, str]:
    """Kafka headers as text, for logging and dead letters (undecodable bytes replaced)."""
    pairs = headers if isinstance(headers, (list, tuple)) else []
    return {str(k): (v or b"").decode("utf-8", "replace") for k, v in pairs}


def decode_record(topic: Topic, payload_type: type[T], headers: object, value: bytes | None) -> T:
    """Check the CloudEvents attributes and decode the payload; raise EnvelopeError on anything off."""
    attrs = _attributes(headers)
    if attrs.get("ce_specversion") != b"1.0":
        raise EnvelopeError("missing or unsupported ce_specversion header (expected 1.0)")
    missing = [name for name in ("ce_id", "ce_source") if not attrs.get(name)]
    if missing:
        raise EnvelopeError(f"missing CloudEvents header(s) {', '.join(missing)}")
    if attrs.get("ce_type") != _constants(topic)[0]:
        found = attrs.get("ce_type")
        shown = found.decode("utf-8", "replace") if found else None
        raise EnvelopeError(f"unexpected ce_type {shown!r} on {topic.name}")
    if value is None:
        raise EnvelopeError("record has no value")
    try:
        payload = msgspec.json.decode(value, type=payload_type)
    except msgspec.ValidationError as exc:
        raise EnvelopeError(f"payload does not match {payload_type.__name__}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise EnvelopeError(f"payload is not valid JSON: {exc}") from exc
    event_id = getattr(payload, "event_id", None)
    if not isinstance(event_id, str) or event_id.encode() != attrs.get("ce_id"):
        raise EnvelopeError("ce_id header does not match the payload's event_id")
    return payload


def header(headers: object, name: str) -> str | None:
    """One Kafka header as text (the last one of that name), or None."""
    found = None
    if isinstance(headers, (list, tuple)):
        for k, v in headers:
            if k == name:
                found = v or b""
    return None if found is None else found.decode("utf-8", "replace")


_CHECKED = frozenset(("ce_specversion", "ce_id", "ce_source", "ce_type", "traceparent"))


def _attributes(headers: object) -> dict[str, bytes]:
    """The headers decode_record checks (and traceparent), raw; the rest are not looked at."""
    found: dict[str, bytes] = {}
    if isinstance(headers, (list, tuple)):
        for k, v in headers:
            if k in _CHECKED:
                found[k] = v or b""
    return found
