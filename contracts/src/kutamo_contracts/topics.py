"""Kafka topic names, partition counts and the event types they carry.

Topics are created explicitly at start-up (never by auto-creation); the version is part of the name
so an incompatible change means a new topic, never a surprise on an existing one.
"""

import msgspec


class Topic(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    event_type: str
    partitions: int = 6
    description: str = ""


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
DEAD_LETTERS = Topic(
    name="kutamo.provisioning.dead-letters.v1",
    event_type="com.kutamo.provisioning.dead_letter.v1",
    partitions=1,
    description="Messages the provisioning worker could not apply, with the reason. Operators replay them.",
)

ALL_TOPICS: tuple[Topic, ...] = (USER_SIGNED_IN, USER_PROVISIONED, DEAD_LETTERS)
