"""Typed views of the webhook envelopes: AdmissionReview (admission.k8s.io/v1) and ConversionReview
(apiextensions.k8s.io/v1), as the API server POSTs them and as the webhooks answer.

Role: the JSON of a review enters the operator in lifecycle.operator.server as a plain mapping;
``admission_request`` and ``conversion_request`` check the one thing every answer needs (a
``request`` object; for admission its ``uid``) and type it, once, for the webhook that reads it.
The object under review is typed by the webhook (``AdmissionRequest[PodBody]`` for the pod
mutator): the API server has validated it against its kind's schema before calling.

Invariants: keys are the exact JSON field names of the Kubernetes types; every TypedDict is
``total=False``.

Must not: do I/O or hold behaviour beyond the two entry checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, Literal, TypedDict, TypeVar, cast

from lifecycle.core.bodies import JSON

__all__ = [
    "AdmissionRequest",
    "AdmissionResponse",
    "AdmissionReview",
    "ConversionRequest",
    "ConversionReview",
    "admission_request",
    "conversion_request",
]

ObjT = TypeVar("ObjT")
ReqT = TypeVar("ReqT")
RespT = TypeVar("RespT")


class AdmissionRequest(TypedDict, Generic[ObjT], total=False):
    uid: str
    kind: dict[str, str]  # {"group", "version", "kind"}
    resource: dict[str, str]  # {"group", "version", "resource"}
    subResource: str
    name: str
    namespace: str
    operation: Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
    userInfo: dict[str, object]  # {"username", "uid", "groups", "extra"}
    object: ObjT
    oldObject: ObjT
    dryRun: bool
    options: JSON


class Status(TypedDict, total=False):  # metav1.Status, as far as a webhook answer fills it
    status: Literal["Success", "Failure"]
    code: int
    message: str
    reason: str


class AdmissionResponse(TypedDict, total=False):
    uid: str
    allowed: bool
    status: Status
    patch: str  # base64 of the JSONPatch
    patchType: Literal["JSONPatch"]
    warnings: list[str]


class Review(TypedDict, Generic[ReqT, RespT], total=False):
    apiVersion: str
    kind: str
    request: ReqT
    response: RespT


class ConversionRequest(TypedDict, total=False):
    uid: str
    desiredAPIVersion: str
    objects: list[JSON]  # any served version of the kind: free-form until converted


class ConversionResponse(TypedDict, total=False):
    uid: str
    convertedObjects: list[JSON]
    result: Status


AdmissionReview = Review[AdmissionRequest[Any], AdmissionResponse]
ConversionReview = Review[ConversionRequest, ConversionResponse]


def admission_request(review: Mapping[str, object]) -> AdmissionRequest[ObjT]:
    """The request of a received AdmissionReview, its object typed as the caller's kind;
    ValueError when there is no request or it has no uid (the server answers 400)."""
    request = review.get("request")
    if not isinstance(request, Mapping) or not request.get("uid"):
        raise ValueError("not an AdmissionReview request (request.uid missing)")
    return cast("AdmissionRequest[ObjT]", request)  # the API server's JSON, schema-checked there


def conversion_request(review: Mapping[str, object]) -> ConversionRequest:
    """The request of a received ConversionReview; ValueError when there is none."""
    request = review.get("request")
    if not isinstance(request, Mapping):
        raise ValueError("ConversionReview has no request")
    return cast(ConversionRequest, request)  # the API server's JSON
