"""Every rendered resource is valid: the built-in kinds against Kubernetes' own schemas (kubernetes-validate,
strict: unknown fields are errors), the operators' custom resources against their published CRD schemas
(deploy/schemas/, pinned releases), made strict the same way."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from tests.deploy.rendering import CRD_GROUPS, DEPLOY, KUBERNETES_VERSION, OVERLAYS, group_of, render


def _strict(schema: Any) -> Any:
    """The schema with unknown fields refused wherever it lists the known ones (the API server prunes or, with
    field validation Strict, refuses them; a misspelt field would otherwise be silently ignored)."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    return schema


def crd_validator(doc: dict[str, Any]) -> jsonschema.protocols.Validator:
    group, version = str(doc["apiVersion"]).split("/")
    path = DEPLOY / "schemas" / CRD_GROUPS[group] / version / f"{doc['kind']}.json"
    if not path.exists():
        raise AssertionError(f"no vendored schema for {doc['apiVersion']} {doc['kind']} (expected {path})")
    schema = _strict(json.loads(path.read_text()))
    # metadata is the API server's (ObjectMeta), not the CRD's to describe
    schema["properties"]["metadata"] = {"type": "object"}
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_builtin_kinds_are_valid_for_the_pinned_kubernetes(overlay: str) -> None:
    problems = []
    builtin = [d for d in render(overlay) if group_of(d) not in CRD_GROUPS]
    assert builtin, "no built-in resources rendered"
    for doc in builtin:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{doc['kind']} {doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_match_the_operators_schemas(overlay: str) -> None:
    problems = []
    custom = [d for d in render(overlay) if group_of(d) in CRD_GROUPS]
    assert {d["kind"] for d in custom} >= {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "Cluster", "Pooler"}
    assert {d["kind"] for d in custom} >= {"PodMonitor", "PrometheusRule"}
    for doc in custom:
        for error in crd_validator(doc).iter_errors(doc):
            problems.append(f"{doc['kind']} {doc['metadata']['name']}: {error.message} at {list(error.path)}")
    assert not problems, "\n".join(problems)


def test_strict_schemas_refuse_a_misspelt_field() -> None:
    """The check above can fail: a field the CRD does not know is an error."""
    pooler = next(d for d in render("production") if d["kind"] == "Pooler")
    wrong = copy.deepcopy(pooler)
    wrong["spec"]["pgbouncer"]["poolmode"] = wrong["spec"]["pgbouncer"].pop("poolMode")
    assert not list(crd_validator(pooler).iter_errors(pooler))
    assert list(crd_validator(wrong).iter_errors(wrong))
