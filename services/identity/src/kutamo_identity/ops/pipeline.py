"""Gathers the pipeline summary: sign-ins, outbox, consumer lag, dead letters, Microsoft and Graph errors.

Each part is fetched with a short timeout and reported as unavailable on its own, so the page still
answers (and says what is down) when Kafka or the worker is.
"""

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from kutamo_contracts.envelope import header_map
from kutamo_contracts.topics import DEAD_LETTERS, USER_SIGNED_IN, Topic
from kutamo_identity.ops.recent import RecentOutcomes
from kutamo_identity.tenancy import operator_transaction
from kutamo_kit.kafka import clients
from kutamo_kit.kafka.connectivity import KafkaConnectivity
from kutamo_kit.seams import Clock

log = logging.getLogger(__name__)
TIMEOUT = 3.0
DEAD_LETTERS_SHOWN = 20


class Summary(msgspec.Struct, kw_only=True):
    generated_at: datetime
    sign_ins: list[dict[str, Any]]
    """Per tenant: ok in the last minute and 15 minutes (all instances), refusals by code (this instance)."""
    outbox: dict[str, Any]
    kafka: dict[str, Any]
    """Whether this instance reaches Kafka (its relay and clients), since when it does not, how many outages."""
    consumer: dict[str, Any]
    dead_letters: dict[str, Any]
    microsoft_errors: list[dict[str, Any]]
    graph: dict[str, Any]


class PipelineView:
    def __init__(
        self,
        pool: asyncpg.Pool,
        bootstrap_servers: str,
        consumer_group: str,
        worker_url: str | None,
        recent: RecentOutcomes,
        microsoft_errors: RecentOutcomes,
        clock: Clock,
        kafka: KafkaConnectivity | None = None,
    ) -> None:
        self._pool = pool
        self._bootstrap = bootstrap_servers
        self._group = consumer_group
        self._worker_url = worker_url
        self._recent = recent
        self._microsoft = microsoft_errors
        self._clock = clock
        self._kafka = KafkaProbe(bootstrap_servers)
        self._connectivity = kafka

    async def close(self) -> None:
        await self._kafka.reset()

    async def summary(self) -> Summary:
        sign_ins, outbox, consumer, dead, graph = await asyncio.gather(
            self._part(self._sign_ins()),
            self._part(self._outbox()),
            self._part(self._lag(), kafka=True),
            self._part(self._dead_letters(), kafka=True),
            self._part(self._graph()),
        )
        errors = [
            {"tenant_id": tenant, "code": code, "count": n}
            for (tenant, code), n in self._microsoft.counts().most_common(20)
        ]
        return Summary(
            generated_at=self._clock(),
            sign_ins=sign_ins.get("tenants", []) if "error" not in sign_ins else [sign_ins],
            outbox=outbox,
            kafka=self._kafka_state(),
            consumer=consumer,
            dead_letters=dead,
            microsoft_errors=errors,
            graph=graph,
        )

    async def _part(self, work: Any, *, kafka: bool = False) -> dict[str, Any]:
        try:
            result: dict[str, Any] = await asyncio.wait_for(work, TIMEOUT)
        except Exception as exc:  # one broken part must not hide the others
            if kafka:
                await self._kafka.reset()
            return {"available": False, "error": type(exc).__name__}
        return {"available": True, **result}

    async def _sign_ins(self) -> dict[str, Any]:
        async with operator_transaction(self._pool) as conn:
            rows = await conn.fetch(
                """
                select t.id as tenant_id, t.display_name as tenant,
                       count(s.event_id) filter (where s.signed_in_at > now() - interval '1 minute') as ok_1m,
                       count(s.event_id) as ok_15m
                from tenants t left join sign_ins s
                  on s.tenant_id = t.id and s.signed_in_at > now() - interval '15 minutes'
                group by t.id, t.display_name
                order by ok_15m desc, t.display_name
                limit 50
                """
            )
        refusals: dict[str, dict[str, int]] = {}
        for (tenant, outcome), n in self._recent.counts().items():
            if outcome != "ok":
                refusals.setdefault(tenant, {})[outcome] = n
        tenants = [
            {"tenant_id": str(r["tenant_id"]), "tenant": r["tenant"], "ok_last_minute": r["ok_1m"],
             "ok_last_15_minutes": r["ok_15m"], "refused_last_15_minutes": refusals.get(str(r["tenant_id"]), {})}
            for r in rows
            if r["ok_15m"] or str(r["tenant_id"]) in refusals
        ]  # fmt: skip
        return {"tenants": tenants}

    def _kafka_state(self) -> dict[str, Any]:
        k = self._connectivity
        if k is None:
            return {"available": False, "error": "not tracked by this process"}
        return {"available": True, "reachable": k.reachable, "outage_seconds": round(k.outage_seconds(), 1),
                "outages": k.outages}  # fmt: skip

    async def _outbox(self) -> dict[str, Any]:
        row = await self._pool.fetchrow(
            "select count(*) as backlog, extract(epoch from now() - min(created_at)) as oldest from outbox"
        )
        assert row is not None, "an aggregate gives one row"
        return {"backlog": row["backlog"], "oldest_age_seconds": round(float(row["oldest"] or 0), 1)}

    async def _lag(self) -> dict[str, Any]:
        async with self._kafka.lock:
            consumer, admin = await self._kafka.clients()
            partitions = _partitions(USER_SIGNED_IN)
            ends = await consumer.end_offsets(partitions)
            committed = await admin.list_consumer_group_offsets(self._group)
        rows = []
        for tp in partitions:
            done = committed.get(tp)
            offset = done.offset if done is not None and done.offset >= 0 else 0
            rows.append(
                {"partition": tp.partition, "end": ends[tp], "committed": offset, "lag": max(ends[tp] - offset, 0)}
            )
        return {
            "group": self._group,
            "topic": USER_SIGNED_IN.name,
            "total_lag": sum(r["lag"] for r in rows),
            "partitions": rows,
        }

    async def _dead_letters(self) -> dict[str, Any]:
        async with self._kafka.lock:
            consumer, _ = await self._kafka.clients()
            partitions = _partitions(DEAD_LETTERS)
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            starts = await consumer.beginning_offsets(partitions)
            for tp in partitions:
                consumer.seek(tp, max(starts[tp], ends[tp] - DEAD_LETTERS_SHOWN))
            letters: list[dict[str, Any]] = []
            wanted = sum(min(ends[tp] - starts[tp], DEAD_LETTERS_SHOWN) for tp in partitions)
            while len(letters) < wanted:
                batch = await consumer.getmany(timeout_ms=1000)
                if not batch:
                    break
                for records in batch.values():
                    letters += [_letter(r) for r in records]
        total = sum(ends[tp] - starts[tp] for tp in partitions)
        letters.sort(key=lambda letter: letter["failed_at"] or "", reverse=True)
        return {"total": total, "latest": letters[:DEAD_LETTERS_SHOWN]}

    async def _graph(self) -> dict[str, Any]:
        if not self._worker_url:
            raise LookupError("PROVISIONING_BASE_URL is not set")
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            text = (await http.get(f"{self._worker_url}/metrics")).text
        calls: dict[str, float] = {}
        waits = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.endswith("graph_calls_total"):
                    key = f"{sample.labels.get('endpoint')} {sample.labels.get('status')}"
                    calls[key] = calls.get(key, 0) + sample.value
                elif sample.name.endswith("graph_throttle_wait_seconds_total"):
                    waits += sample.value
        return {"calls_by_endpoint_and_status": calls, "throttle_wait_seconds": waits}


def _partitions(topic: Topic) -> list[TopicPartition]:
    # Topics are created with the contract's partition count; the contract is the source of truth.
    return [TopicPartition(topic.name, p) for p in range(topic.partitions)]


class KafkaProbe:
    """One long-lived consumer (no group) and admin client for the page's read-only look at Kafka,
    made on first use and made again after a failure."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._bootstrap = bootstrap_servers
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self.lock = asyncio.Lock()

    async def clients(self) -> tuple[AIOKafkaConsumer, AIOKafkaAdminClient]:
        if self._consumer is None or self._admin is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap, enable_auto_commit=False, request_timeout_ms=2500,
                **clients.options(),
            )  # fmt: skip
            admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, request_timeout_ms=2500, **clients.options())
            clients.backoff_reconnects(consumer)
            clients.backoff_reconnects(admin)
            await consumer.start()
            await admin.start()
            self._consumer, self._admin = consumer, admin
        return self._consumer, self._admin

    async def reset(self) -> None:
        consumer, admin, self._consumer, self._admin = self._consumer, self._admin, None, None
        for client in (consumer, admin):
            if client is not None:
                with contextlib.suppress(Exception):
                    await (client.stop() if isinstance(client, AIOKafkaConsumer) else client.close())


def _letter(record: Any) -> dict[str, Any]:
    headers = header_map(record.headers)
    return {
        "offset": record.offset,
        "reason": headers.get("dlq_reason"),
        "message": headers.get("dlq_error_message"),
        "original": f"{headers.get('dlq_original_topic')}/{headers.get('dlq_original_partition')}@"
        f"{headers.get('dlq_original_offset')}",
        "failed_at": headers.get("dlq_failed_at"),
    }
