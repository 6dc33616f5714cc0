"""The README's list of Event reasons matches what the code emits."""

from __future__ import annotations

import re

from lifecycle.core.phases import Phase
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
SOURCE = "\n".join(p.read_text() for p in sorted((ROOT / "lifecycle").rglob("*.py")))


def readme_reasons() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("**Events.**") : text.index("**CloudEvents.**")]
    ours = section[: section.index("KLT's `…Finished`")]  # the last paragraph names KLT's, not ours
    return sorted(
        {t for t in re.findall(r"`([A-Za-z]+)`", ours) if t[0].isupper() and t != "Events"}
    )


def emitted(reason: str) -> bool:
    """A literal reason in the code, or `<phase or kind><suffix>` built by an f-string."""
    if f'"{reason}"' in SOURCE or f'"{reason}/' in SOURCE:
        return True
    for suffix in ("Failed", "ReconcileError"):
        prefix = reason.removesuffix(suffix)
        if prefix != reason and prefix in {p.value for p in Phase} and f'}}{suffix}"' in SOURCE:
            return True
    return False


def test_every_reason_the_readme_lists_is_emitted() -> None:
    reasons = readme_reasons()
    assert len(reasons) > 25
    assert [r for r in reasons if not emitted(r)] == []


def test_klt_reasons_of_the_issue_are_listed() -> None:
    reasons = set(readme_reasons())
    for reason in (
        "CreateWorkload",
        "CreateAppVersionFailed",
        "CreateWorkloadVersionFailed",
        "ReconcileEvaluationReconcileTimeout",
        "AppContextNotFound",
    ):
        assert reason in reasons
    assert "<Phase>ReconcileError" in (ROOT / "README.md").read_text()
