"""The pipeline summary as plain-text tables for a terminal (`python -m kutamo_identity ops status`)."""

from typing import Any

from kutamo_identity.ops.pipeline import Summary


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    if not rows:
        return ["  (nothing)"]
    cells = [head, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    lines = ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  " + "  ".join("-" * w for w in widths))
    return lines


def _down(part: dict[str, Any]) -> list[str]:
    return [f"  UNAVAILABLE ({part.get('error')})"]


def render(summary: Summary) -> str:
    out = [f"Kutamo Identity pipeline at {summary.generated_at.isoformat(timespec='seconds')}", "", "Sign-ins"]
    out += _table(
        ["tenant", "ok/min", "ok/15min", "refused/15min"],
        [[t.get("tenant"), t.get("ok_last_minute"), t.get("ok_last_15_minutes"),
          ", ".join(f"{c} {n}" for c, n in t.get("refused_last_15_minutes", {}).items())] for t in summary.sign_ins],
    )  # fmt: skip
    o = summary.outbox
    out += ["", "Outbox"] + (
        [f"  {o['backlog']} rows waiting, oldest {o['oldest_age_seconds']} s"] if o.get("available") else _down(o)
    )
    k = summary.kafka
    out += ["", "Kafka"]
    if not k.get("available"):
        out += ["  not tracked by this command: see /ops or kutamo_identity_kafka_reachable"]
    elif k["reachable"]:
        out += [f"  reachable ({k['outages']} outages since this instance started)"]
    else:
        out += [f"  UNREACHABLE for {k['outage_seconds']} s; events wait in the outbox"]
    c = summary.consumer
    out += ["", "Provisioning consumer lag"]
    if c.get("available"):
        out += [f"  group {c['group']}: {c['total_lag']} messages behind"]
        out += _table(
            ["partition", "end", "committed", "lag"],
            [[p["partition"], p["end"], p["committed"], p["lag"]] for p in c["partitions"]],
        )
    else:
        out += _down(c)
    d = summary.dead_letters
    out += ["", "Dead letters"]
    if d.get("available"):
        out += [f"  {d['total']} in the topic"]
        out += _table(
            ["failed at", "reason", "original"],
            [[x["failed_at"], x["reason"], x["original"]] for x in d["latest"][:10]],
        )
    else:
        out += _down(d)
    out += ["", "Microsoft sign-in errors (15 min)"]
    out += _table(
        ["tenant", "code", "count"], [[e["tenant_id"], e["code"], e["count"]] for e in summary.microsoft_errors]
    )
    g = summary.graph
    out += ["", "Microsoft Graph"]
    if g.get("available"):
        out += [f"  throttled for {g['throttle_wait_seconds']:.1f} s in total"]
        out += _table(
            ["endpoint status", "calls"], [[k, int(v)] for k, v in sorted(g["calls_by_endpoint_and_status"].items())]
        )
    else:
        out += _down(g)
    return "\n".join(out) + "\n"
