"""The built-in kinds' TypedDicts (lifecycle.core.kubebodies) name real fields of the official models.

kubernetes_asyncio (a test-only dependency) carries the JSON name of every field of every core/v1
and events.k8s.io/v1 model in its ``attribute_map``: a misspelt key here fails.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio import client

from lifecycle.core import kubebodies as kb
from lifecycle.core.bodies import Body

_MODELS: list[tuple[Any, tuple[Any, ...]]] = [
    (kb.LocalRef, (client.V1ConfigMapKeySelector, client.V1SecretVolumeSource)),
    (kb.EnvVarSource, (client.V1EnvVarSource,)),
    (kb.EnvVar, (client.V1EnvVar,)),
    (kb.EnvFromSource, (client.V1EnvFromSource,)),
    (kb.Container, (client.V1Container,)),
    (kb.Volume, (client.V1Volume,)),
    (kb.ConfigMapBody, (client.V1ConfigMap,)),
    (kb.SecretBody, (client.V1Secret,)),
    (kb.SchedulingGate, (client.V1PodSchedulingGate,)),
    (kb.PodSpec, (client.V1PodSpec,)),
    (kb.PodStatus, (client.V1PodStatus,)),
    (kb.PodTemplateSpec, (client.V1PodTemplateSpec,)),
    (kb.ObjectReference, (client.V1ObjectReference,)),
    (kb.EventSource, (client.V1EventSource,)),
    (kb.EventBody, (client.CoreV1Event, client.EventsV1Event)),
]


@pytest.mark.parametrize(("typed", "models"), _MODELS, ids=lambda v: getattr(v, "__name__", ""))
def test_keys_are_fields_of_the_official_model(typed: Any, models: tuple[Any, ...]) -> None:
    known = {name for model in models for name in model.attribute_map.values()}
    assert set(typed.__annotations__) - known == set()


def test_a_body_has_the_fields_of_a_pod() -> None:
    pod: Any = client.V1Pod
    assert set(Body.__annotations__) <= set(pod.attribute_map.values())
