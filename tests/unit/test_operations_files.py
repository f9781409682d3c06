"""The ready-made operations files: alert rules and the Grafana dashboard parse, name only metrics the
services really expose, and every alert has a runbook entry."""

import json
import re
from pathlib import Path

import yaml

from kutamo_identity.metrics import IdentityMetrics
from kutamo_provisioning.metrics import Metrics as WorkerMetrics

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "operations"
METRIC = re.compile(r"\b((?:kutamo_|process_)[a-z_]+)\b")


def exposed_names() -> set[str]:
    names: set[str] = set()
    for registry in (IdentityMetrics().registry, WorkerMetrics().registry):
        for family in registry.collect():
            names.add(family.name)
            names.update(sample.name for sample in family.samples)
            if family.type == "counter":
                names.add(family.name + "_total")
            if family.type == "histogram":
                names.update(family.name + suffix for suffix in ("_bucket", "_sum", "_count"))
    return names


def names_in(expression: str) -> set[str]:
    return set(METRIC.findall(expression))


def test_alert_rules_parse_and_name_only_exposed_metrics() -> None:
    rules = yaml.safe_load((OPERATIONS / "prometheus" / "alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    exposed = exposed_names()

    assert {a["alert"] for a in alerts} >= {
        "KutamoSignInFailureRatioHigh", "KutamoOutboxStale", "KutamoConsumerLagHigh", "KutamoDeadLetters",
        "KutamoGraphThrottling", "KutamoServiceNotReady",
    }  # fmt: skip
    for alert in alerts:
        referenced = names_in(alert["expr"])
        assert referenced <= exposed, (alert["alert"], referenced - exposed)
    ready = next(a for a in alerts if a["alert"] == "KutamoServiceNotReady")
    assert {"kutamo_identity_ready", "kutamo_provisioning_ready"} <= exposed, "both services expose readiness"
    assert "kutamo_(identity|provisioning)_ready" in ready["expr"]


def test_every_alert_has_a_runbook_entry() -> None:
    rules = yaml.safe_load((OPERATIONS / "prometheus" / "alerts.yml").read_text())
    runbook = (ROOT / "docs" / "operations.md").read_text()
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert f"### {rule['alert']}" in runbook, rule["alert"]
            assert rule["annotations"]["runbook"] == f"docs/operations.md#{rule['alert'].lower()}"


def test_the_dashboard_parses_and_charts_only_exposed_metrics() -> None:
    dashboard = json.loads((OPERATIONS / "grafana" / "dashboards" / "kutamo-pipeline.json").read_text())
    exposed = exposed_names()
    charted = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            charted |= names_in(target["expr"])
    assert charted <= exposed, charted - exposed
    for must in ("kutamo_identity_sign_ins_total", "kutamo_identity_outbox_backlog_rows",
                 "kutamo_provisioning_consumer_lag_messages", "kutamo_provisioning_dead_letters_total"):  # fmt: skip
        assert must in charted


def test_prometheus_scrapes_both_services_and_loads_the_rules() -> None:
    config = yaml.safe_load((OPERATIONS / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert jobs == {"kutamo-identity": ["identity:8000"], "kutamo-provisioning": ["provisioning:8001"]}
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_prometheus_sends_the_operator_key_that_docker_compose_gives_it_to_the_identity_service() -> None:
    config = yaml.safe_load((OPERATIONS / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    compose = yaml.safe_load((OPERATIONS.parent / "docker-compose.yml").read_text())
    secret = compose["secrets"]["kutamo_operator_key"]
    auth = jobs["kutamo-identity"]["authorization"]
    assert auth == {"type": "Bearer", "credentials_file": "/run/secrets/kutamo_operator_key"}
    assert "authorization" not in jobs["kutamo-provisioning"]  # the worker's metrics name no tenant
    assert "kutamo_operator_key" in compose["services"]["prometheus"]["secrets"]
    assert secret == {"environment": "KUTAMO_OPERATOR_KEY"}
    assert compose["services"]["identity"]["environment"]["KUTAMO_OPERATOR_KEY"] == "${KUTAMO_OPERATOR_KEY:-}"
