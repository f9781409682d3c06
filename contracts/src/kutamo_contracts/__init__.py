"""Kutamo Identity event contracts: what crosses the wire, for both services and downstream consumers.

Downstream teams outside Python use the generated JSON Schema / AsyncAPI documents instead. The
services' runtime plumbing (logging, configuration, migrations, the outbox relay) is in kutamo_kit.
"""

from kutamo_contracts.envelope import Envelope, decode_record, encode_record
from kutamo_contracts.events import UserErased, UserLifecycleChanged, UserProvisioned, UserSignedIn
from kutamo_contracts.sealing import Binding, SealedTokenError, SealingKeys, open_token, seal_token
from kutamo_contracts.topics import (
    ALL_TOPICS,
    DEAD_LETTERS,
    USER_ERASED,
    USER_LIFECYCLE,
    USER_PROVISIONED,
    USER_SIGNED_IN,
    Topic,
)

__all__ = [
    "ALL_TOPICS",
    "DEAD_LETTERS",
    "USER_ERASED",
    "USER_LIFECYCLE",
    "USER_PROVISIONED",
    "USER_SIGNED_IN",
    "Binding",
    "Envelope",
    "SealedTokenError",
    "SealingKeys",
    "Topic",
    "UserErased",
    "UserLifecycleChanged",
    "UserProvisioned",
    "UserSignedIn",
    "decode_record",
    "encode_record",
    "open_token",
    "seal_token",
]
