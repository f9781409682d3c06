"""Kafka topic names, partition counts and the event types they carry.

Topics are created explicitly at start-up (never by auto-creation); the version is part of the name
so an incompatible change means a new topic, never a surprise on an existing one.
"""

import msgspec

SCHEMA_BASE_URL = "https://schemas.kutamo.com/events"
"""Base of the JSON Schema ids. The documents themselves are committed in this package's `schemas/`
folder as `<event type>.json` and served under this base; the id names the schema, it is not fetched."""


class Topic(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    """The Kafka topic, versioned: `kutamo.<service>.<event>.v<major>`."""
    event_type: str
    """The CloudEvents `ce_type` of every record on the topic, versioned like the topic."""
    partitions: int = 6
    description: str = ""
    key: str = "Kutamo user id"
    """What the record key is; one key's records stay in order on one partition."""

    @property
    def dataschema(self) -> str:
        """The `ce_dataschema` of the records: the `$id` of the payload's published JSON Schema."""
        return f"{SCHEMA_BASE_URL}/{self.event_type}.json"


USER_SIGNED_IN = Topic(
    name="kutamo.identity.user-signed-in.v1",
    event_type="com.kutamo.identity.user.signed_in.v1",
    description="A person signed in with their organisation's Azure AD account. Key: Kutamo user id.",
)
USER_PROVISIONED = Topic(
    name="kutamo.provisioning.user-provisioned.v1",
    event_type="com.kutamo.provisioning.user.provisioned.v1",
    description="A Kutamo user record was created or updated from a sign-in. Key: Kutamo user id.",
)
USER_LIFECYCLE = Topic(
    name="kutamo.identity.user-lifecycle.v1",
    event_type="com.kutamo.identity.user.lifecycle_changed.v1",
    description="The customer's directory (SCIM) created, updated, deactivated, reactivated or deleted a user. "
    "Key: Kutamo user id.",
)
USER_ERASED = Topic(
    name="kutamo.identity.user-erased.v1",
    event_type="com.kutamo.identity.user.erased.v1",
    description="An operator erased a user (or their whole tenant): delete what you hold about them. "
    "Key: Kutamo user id.",
)
DEAD_LETTERS = Topic(
    name="kutamo.provisioning.dead-letters.v1",
    event_type="com.kutamo.provisioning.dead_letter.v1",
    partitions=1,
    description="Messages the provisioning worker could not apply, with the reason. Operators replay them.",
    key="the original record's key (a Kutamo user id for user events), unchanged",
)

ALL_TOPICS: tuple[Topic, ...] = (USER_SIGNED_IN, USER_PROVISIONED, USER_ERASED, DEAD_LETTERS, USER_LIFECYCLE)
