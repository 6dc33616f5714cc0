"""The pure Analysis core (lifecycle.core.analysiscore): window, waiting, retries, verdict."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from lifecycle.core import analysiscore
from lifecycle.core.analysiscore import MAX_ATTEMPTS, RETRY_SECONDS, Verdict
from lifecycle.core.bodies import AnalysisBody
from lifecycle.core.childcore import ProviderQueried, Report, Step

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def analysis(status: dict[str, Any] | None = None, **spec: Any) -> AnalysisBody:
    return cast(
        AnalysisBody,
        {
            "metadata": {"name": "a", "namespace": "ns", "uid": "u-a"},
            "spec": {"analysisDefinition": {"name": "def"}, **spec},
            "status": status or {},
        },
    )


def verdict(retryable: bool, errors: dict[str, str]) -> Verdict:
    stored = {name: {"value": 0.0, "errMsg": err} for name, err in errors.items()}
    return Verdict(
        raw="{}", passed=not errors, warning=False, retryable=retryable, stored_values=stored
    )


def test_definition_key_and_the_frozen_window() -> None:
    assert analysiscore.definition_key(analysis()) == "ns/def"
    assert (
        analysiscore.definition_key(analysis(analysisDefinition={"name": "d", "namespace": "k"}))
        == "k/d"
    )
    assert analysiscore.frozen_window(analysis()) is None
    frozen = analysiscore.frozen(T0, T0 + timedelta(minutes=5))
    assert frozen["state"] == "Progressing"
    assert analysiscore.frozen_window(analysis(cast(dict[str, Any], frozen))) == (
        T0,
        T0 + timedelta(minutes=5),
    )
    with pytest.raises(ValueError):
        analysiscore.frozen_window(analysis({"timeframe": {"from": "x", "to": "y"}}))


def test_waiting_is_said_once_and_an_unreadable_provider_retries() -> None:
    first = analysiscore.waiting(
        analysis(), "AnalysisWaiting", "AnalysisDefinition ns/def not found"
    )
    assert first.fields == {"message": "AnalysisDefinition ns/def not found"}
    assert first.actions == (Report("AnalysisWaiting", "AnalysisDefinition ns/def not found"),)
    again = analysiscore.waiting(analysis({"message": "AnalysisDefinition ns/def not found"}), "AnalysisWaiting",
                                 "AnalysisDefinition ns/def not found")  # fmt: skip
    assert again.fields is None and again.actions == () and again.requeue_after is None
    secret = analysiscore.provider_unreadable(analysis(), "Secret s not found")
    assert secret.requeue_after == RETRY_SECONDS
    assert secret.fields == {"message": "Secret s not found; retrying in 10s"}


def test_invalid_input_completes_as_failed_with_the_reason_in_raw() -> None:
    decision = analysiscore.invalid("timeframe: bad")
    assert decision.fields is not None and decision.fields["state"] == "Completed"
    assert json.loads(str(decision.fields["raw"]))["reason"] == "timeframe: bad"
    assert decision.actions == (Report("AnalysisFailed", "timeframe: bad"),)


def test_a_retryable_verdict_retries_then_completes_and_counts_each_provider() -> None:
    providers = {"o1": ("ns", "prom"), "o2": ("ns", "prom"), "o3": ("keptn", "dd")}
    down = verdict(True, {"o1": "503 Service Unavailable", "o2": "", "o3": ""})
    retry = analysiscore.judged(down, 1, providers)
    assert retry.requeue_after == RETRY_SECONDS
    assert retry.fields is not None and retry.fields["message"] == (
        "provider error: 503 Service Unavailable; retrying in 10s"
    )
    assert ProviderQueried("ns", "prom", True) in retry.actions
    assert ProviderQueried("keptn", "dd", False) in retry.actions
    final = analysiscore.judged(down, MAX_ATTEMPTS, providers)
    assert final.requeue_after is None and final.actions[-1] == Step.RECORD_RESULT
    assert final.fields is not None and final.fields["state"] == "Completed"
    assert final.fields["storedValues"] is None


def test_a_template_error_is_no_provider_failure() -> None:
    decision = analysiscore.judged(
        verdict(False, {"o1": "template: no arg x"}), 1, {"o1": ("ns", "prom")}
    )
    assert decision.actions == (ProviderQueried("ns", "prom", False), Step.RECORD_RESULT)


def test_previous_results_newest_first_same_args_only() -> None:
    def done(uid: str, to: str, value: float, args: dict[str, str] | None = None) -> AnalysisBody:
        raw = {"verdict": "pass", "objectiveResults": [
            {"objective": {"analysisValueTemplateRef": {"name": "lat"}}, "value": value}]}  # fmt: skip
        body = analysis(
            {"state": "Completed", "timeframe": {"to": to}, "raw": json.dumps(raw)}, args=args or {}
        )
        return cast(AnalysisBody, {**body, "metadata": {"uid": uid}})

    others = [
        done("old", "2026-01-01T00:00:00Z", 1.0),
        done("new", "2026-01-01T00:05:00Z", 2.0),
        done("later", "2026-01-01T01:00:00Z", 3.0),  # ended after this one's window
        done("args", "2026-01-01T00:04:00Z", 4.0, {"x": "1"}),
    ]
    previous = analysiscore.previous_results(analysis(), others, T0 + timedelta(minutes=10))
    assert previous == {"lat": [(2.0, "pass"), (1.0, "pass")]}
