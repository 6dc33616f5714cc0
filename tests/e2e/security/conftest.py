"""Fixtures of the security tests: the integration ``cluster`` (sandbox + whole operator) and the
children ``env``/``operator_factory`` (sandbox + some controllers), reused as they are."""

from __future__ import annotations

from tests.controllers.conftest import env, operator_factory, prometheus
from tests.e2e.flow.conftest import cluster

__all__ = ["cluster", "env", "operator_factory", "prometheus"]
