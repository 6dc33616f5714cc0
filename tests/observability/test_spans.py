"""Spans rebuilt from status: hierarchy, names, attributes, links, errors, determinism, export."""

from __future__ import annotations

import asyncio
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tests.observability.conftest import OTLPReceiver
from tests.observability.samples import Flow, app_flow
from tests.support.spans import build_version_spans
from tracing.context import derive_span_id, format_traceparent, parse_traceparent
from tracing.setup import ExporterKind, Tracing, parse_target, read_span_lines, span_to_dict
from tracing.spans import build_child_span, build_phase_span, export_child_span, export_phase_span

PREVIOUS_ROOT = {"traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"}
LINK = "00-" + "12" * 16 + "-" + "34" * 8 + "-01"


def all_spans(flow: Flow, sink: Tracing | None = None) -> list[ReadableSpan]:
    resource = sink.resource if sink else None
    spans = build_version_spans(flow.app_version, resource=resource, previous_root=PREVIOUS_ROOT)
    for wv in flow.workload_versions:
        spans += build_version_spans(wv, resource=resource)
    for task in flow.tasks:
        span = build_child_span(task, resource=resource)
        assert span is not None
        spans.append(span)
    for evaluation, parent in flow.evaluations:
        span = build_child_span(evaluation, parent_traceparent=parent, resource=resource)
        assert span is not None
        spans.append(span)
    return spans


def by_name(spans: list[ReadableSpan]) -> dict[str, ReadableSpan]:
    names = [s.name for s in spans]
    assert len(names) == len(set(names)), names
    return {s.name: s for s in spans}


def test_hierarchy_and_names_follow_klt() -> None:
    spans = by_name(all_spans(app_flow(span_links=(LINK,))))
    root = spans["podtato-0.1.0-6b86b273"]
    assert root.parent is None
    assert root.kind is SpanKind.CONSUMER
    ids = {s.context.span_id: s for s in spans.values() if s.context}
    for name in ("AppPreDeployTasks", "AppPreDeployEvaluations", "AppDeploy"):
        assert spans[name].parent is not None
        assert spans[name].parent.span_id == root.context.span_id  # type: ignore[union-attr]
    app_deploy = spans["AppDeploy"]
    for workload in ("frontend", "backend"):
        wv = spans[f"podtato-{workload}-0.1.0"]
        assert wv.parent is not None and wv.parent.span_id == app_deploy.context.span_id  # type: ignore[union-attr]
        phase = spans[f"podtato-{workload}/WorkloadDeploy"]
        assert phase.parent is not None and phase.parent.span_id == wv.context.span_id  # type: ignore[union-attr]
        task = spans[f"pre-check-{workload}"]
        assert task.parent is not None
        assert ids[task.parent.span_id].name == f"podtato-{workload}/WorkloadPreDeployTasks"
        ev = spans[f"post-eval-latency-{workload}"]
        assert ev.parent is not None
        assert ids[ev.parent.span_id].name == f"podtato-{workload}/WorkloadPostDeployEvaluations"
    assert ids[spans["pre-notify-podtato"].parent.span_id].name == "AppPreDeployTasks"  # type: ignore[union-attr]
    # one trace, no orphans
    assert {s.context.trace_id for s in spans.values()} == {root.context.trace_id}  # type: ignore[union-attr]
    orphans = [s.name for s in spans.values() if s.parent and s.parent.span_id not in ids]
    assert orphans == []
    # app failed at AppDeploy: no AppPostDeployTasks span
    assert "AppPostDeployTasks" not in spans


def test_attributes_links_and_errors() -> None:
    spans = by_name(all_spans(app_flow(span_links=(LINK,))))
    root = spans["podtato-0.1.0-6b86b273"]
    attrs = dict(root.attributes or {})
    assert attrs["keptn.deployment.app.name"] == "podtato"
    assert attrs["keptn.deployment.app.version"] == "0.1.0"
    assert attrs["keptn.deployment.app.namespace"] == "demo"
    assert attrs["cicd.pipeline.name"] == "podtato"
    assert attrs["cicd.pipeline.result"] == "failure"
    assert attrs["deployment.status"] == "failed"
    assert attrs["deployment.environment.name"] == "staging"
    assert attrs["stage"] == "staging"  # app-context metadata copied verbatim
    assert root.status.status_code is StatusCode.ERROR
    links = {
        (f"{link.context.trace_id:032x}", link.attributes.get("opentracing.ref_type"))
        for link in root.links
    }  # type: ignore[union-attr]
    assert links == {("12" * 16, "follows-from"), ("ab" * 16, "follows-from")}

    wv_phase = spans["podtato-backend/WorkloadPostDeployEvaluations"]
    assert wv_phase.status.status_code is StatusCode.ERROR
    assert wv_phase.status.description == "evaluation post-eval-latency failed"
    assert [e.name for e in wv_phase.events] == ["Workload Post-Deployment Evaluations has failed"]
    assert wv_phase.attributes["keptn.deployment.workload.name"] == "podtato-backend"  # type: ignore[index]
    assert spans["podtato-frontend/WorkloadDeploy"].status.status_code is StatusCode.OK

    ev = spans["post-eval-latency-backend"]
    assert ev.status.status_code is StatusCode.ERROR
    event = ev.events[0]
    assert (
        event.name
        == "evaluation of 'latency-p95' failed with value: '900' and reason: 'value 900 not <500'"
    )
    assert event.attributes["keptn.evaluation.target"] == "<500"  # type: ignore[index]
    task = spans["pre-check-frontend"]
    assert task.attributes["keptn.deployment.task.name"] == "pre-check-frontend"  # type: ignore[index]
    assert task.attributes["cicd.pipeline.task.type"] == "deploy"  # type: ignore[index]
    assert "traceparent" not in (task.attributes or {})


def test_building_twice_gives_identical_spans() -> None:
    first = [span_to_dict(s) for s in all_spans(app_flow())]
    second = [span_to_dict(s) for s in all_spans(app_flow())]
    assert first == second
    assert len({(s["traceId"], s["spanId"]) for s in first}) == len(first)


def test_unfinished_phase_and_bad_carrier_give_no_span() -> None:
    body: dict[str, Any] = app_flow().app_version
    body["status"]["phaseTraceIDs"]["AppPreDeployTasks"].pop("endTime")
    body["status"]["phaseTraceIDs"]["AppDeploy"]["traceparent"] = "garbage"
    assert build_phase_span(body, "AppPreDeployTasks") is None
    assert build_phase_span(body, "AppDeploy") is None
    assert build_phase_span(body, "NoSuchPhase") is None
    assert parse_traceparent("00-" + "0" * 32 + "-" + "1" * 16 + "-01") is None


def test_task_span_id_is_derived_from_its_phase_span() -> None:
    flow = app_flow()
    task = flow.tasks[0]
    span = build_child_span(task)
    assert span is not None and span.context is not None
    parent = parse_traceparent(task["spec"]["context"]["metadata"]["traceparent"])
    assert parent is not None
    expected = format_traceparent(
        parent.trace_id, derive_span_id(parent.span_id, task["metadata"]["name"])
    )
    assert expected == f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}-01"


def test_export_helpers_hand_spans_to_the_sink() -> None:
    memory = InMemorySpanExporter()
    tracing = Tracing(exporter=memory, batch=False)
    flow = app_flow(failing_workload=None)
    assert export_phase_span(tracing, flow.app_version, "AppDeploy") is not None
    assert export_phase_span(tracing, flow.app_version, "root", previous_root=PREVIOUS_ROOT)
    assert export_child_span(tracing, flow.tasks[0]) is not None
    names = [s.name for s in memory.get_finished_spans()]
    assert names == ["AppDeploy", "podtato-0.1.0-6b86b273", "pre-notify-podtato"]
    assert (
        memory.get_finished_spans()[0].resource.attributes["service.name"] == "lifecycle-operator"
    )
    tracing.shutdown()


def test_parse_target_table() -> None:
    assert parse_target(None).kind is ExporterKind.NONE
    assert parse_target("console").kind is ExporterKind.CONSOLE
    assert parse_target("otel-collector:4317").endpoint == "otel-collector:4317"
    assert parse_target("otel-collector:4317").kind is ExporterKind.OTLP_GRPC
    assert parse_target("grpcs://c:4317").insecure is False
    http = parse_target("http://c:4318")
    assert (http.kind, http.endpoint) == (ExporterKind.OTLP_HTTP, "http://c:4318/v1/traces")
    assert parse_target("file:///tmp/x.jsonl").endpoint == "/tmp/x.jsonl"


def test_json_lines_file_round_trip(tmp_path: Any) -> None:
    path = tmp_path / "spans.jsonl"
    tracing = Tracing(f"file://{path}", batch=False)
    spans = all_spans(app_flow(), tracing)
    tracing.export(spans)
    tracing.shutdown()
    lines = read_span_lines(path)
    assert [line["name"] for line in lines] == [s.name for s in spans]
    root = next(line for line in lines if line["name"] == "podtato-0.1.0-6b86b273")
    assert root["status"]["code"] == "ERROR"
    assert root["links"][0]["attributes"] == {
        "opentracing.ref_type": "follows-from",
        "keptn.link": "previous-version",
    }


async def test_full_flow_over_real_otlp_http(otlp_receiver: OTLPReceiver) -> None:
    tracing = Tracing(otlp_receiver.url, service_version="test")
    flow = app_flow(span_links=(LINK,))
    expected = all_spans(flow, tracing)
    tracing.export(expected)
    # The HTTP exporter is synchronous: flush from a thread so the receiver can answer.
    assert await asyncio.to_thread(tracing.force_flush, 10_000)
    await asyncio.to_thread(tracing.shutdown)
    got = {s.name: s for s in otlp_receiver.spans}
    assert len(otlp_receiver.spans) == len(expected)
    assert otlp_receiver.resources[0]["service.name"] == "lifecycle-operator"
    ids = {s.span_id for s in otlp_receiver.spans}
    root = got["podtato-0.1.0-6b86b273"]
    assert root.parent_span_id == b""
    assert root.kind == 5  # SPAN_KIND_CONSUMER
    assert all(s.parent_span_id in ids for s in otlp_receiver.spans if s.parent_span_id)
    assert got["podtato-backend-0.1.0"].parent_span_id == got["AppDeploy"].span_id
    assert got["podtato-backend/WorkloadPostDeployEvaluations"].status.code == 2  # ERROR
    attrs = {
        kv.key: kv.value.string_value for kv in got["podtato-frontend/WorkloadDeploy"].attributes
    }
    assert attrs["keptn.deployment.workload.version"] == "0.1.0"
    link_attrs = [{kv.key: kv.value.string_value for kv in link.attributes} for link in root.links]
    assert all(a["opentracing.ref_type"] == "follows-from" for a in link_attrs)
    assert {link.trace_id.hex() for link in root.links} == {"12" * 16, "ab" * 16}


async def test_reexport_after_restart_yields_identical_spans(otlp_receiver: OTLPReceiver) -> None:
    """Two operator lives exporting the same status produce byte-identical spans (dedupable)."""
    for _ in range(2):
        tracing = Tracing(otlp_receiver.url)
        tracing.export(all_spans(app_flow()))
        await asyncio.to_thread(tracing.shutdown)
    half = len(otlp_receiver.spans) // 2
    first = sorted(s.SerializeToString() for s in otlp_receiver.spans[:half])
    second = sorted(s.SerializeToString() for s in otlp_receiver.spans[half:])
    assert first == second


async def test_otlp_grpc_export_reaches_a_real_grpc_server() -> None:
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    received: list[str] = []

    class Service(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
        async def Export(self, request: Any, context: Any) -> Any:
            for rs in request.resource_spans:
                for ss in rs.scope_spans:
                    received.extend(span.name for span in ss.spans)
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        tracing = Tracing(f"127.0.0.1:{port}")
        assert tracing.target.kind is ExporterKind.OTLP_GRPC
        spans = all_spans(app_flow(failing_workload=None), tracing)
        tracing.export(spans)
        await asyncio.to_thread(tracing.shutdown)
    finally:
        await server.stop(None)
    assert sorted(received) == sorted(s.name for s in spans)


def test_reconfigure_switches_exporter_only_when_the_url_changes(tmp_path: Any) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    tracing = Tracing(f"file://{first}", batch=False)
    spans = all_spans(app_flow(failing_workload=None), tracing)
    tracing.export(spans[:1])
    assert not tracing.reconfigure(f"file://{first}")
    assert tracing.reconfigure(f"file://{second}")
    tracing.export(spans[1:2])
    assert tracing.reconfigure("")
    tracing.export(spans[2:3])  # no exporter: silently not exported
    tracing.shutdown()
    assert [s["name"] for s in read_span_lines(first)] == [spans[0].name]
    assert [s["name"] for s in read_span_lines(second)] == [spans[1].name]
