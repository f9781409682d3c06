"""Which payload travels on which topic: the list the published documents are generated from."""

import msgspec

from kutamo_contracts.envelope import SOURCE_IDENTITY, SOURCE_PROVISIONING
from kutamo_contracts.events import DeadLetter, UserErased, UserLifecycleChanged, UserProvisioned, UserSignedIn
from kutamo_contracts.topics import DEAD_LETTERS, USER_ERASED, USER_LIFECYCLE, USER_PROVISIONED, USER_SIGNED_IN, Topic


class Contract(msgspec.Struct, frozen=True, kw_only=True):
    topic: Topic
    payload: type[msgspec.Struct]
    producer: str
    """The service that publishes it (its CloudEvents `ce_source`)."""
    cloudevent: bool = True
    """False for dead letters: they carry `ce_type`, `content-type` and `dlq_*` headers, not a full CloudEvent."""


CONTRACTS: tuple[Contract, ...] = (
    Contract(topic=USER_SIGNED_IN, payload=UserSignedIn, producer=SOURCE_IDENTITY),
    Contract(topic=USER_PROVISIONED, payload=UserProvisioned, producer=SOURCE_PROVISIONING),
    Contract(topic=USER_ERASED, payload=UserErased, producer=SOURCE_IDENTITY),
    Contract(topic=DEAD_LETTERS, payload=DeadLetter, producer=SOURCE_PROVISIONING, cloudevent=False),
    Contract(topic=USER_LIFECYCLE, payload=UserLifecycleChanged, producer=SOURCE_IDENTITY),
)
