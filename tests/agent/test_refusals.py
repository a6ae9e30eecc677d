"""A refusal in a few words, as the summary line and run_ended name it (agent/refusals.py): each
form the wrapper writes keeps its true reason, and who decided."""

from __future__ import annotations

from agent_runtime.agent.refusals import refusal_notes, summary_part
from agent_runtime.core import CallRecord, why_refused


def test_each_refusal_says_who_refused_and_why():
    assert why_refused("run_cmd was refused by the command policy (rule git-push-force): force push") == \
        "denied by rule git-push-force"
    assert why_refused("apply_patch needs approval and was refused because approval mode is 'never' (x).") == \
        "approval mode is 'never'"
    assert why_refused("The user refused this apply_patch. They said: no") == "refused by the user"
    assert why_refused("run_cmd was blocked by the user's hook no-push: pushing is for humans") == \
        "blocked by the hook no-push"
    assert why_refused("calc.py is protected. Leave it.") == "calc.py is protected"


def test_notes_and_the_summary_part():
    calls = [CallRecord("read_file", {}, "ok"),
             *(CallRecord("run_cmd", {}, "refused", facts={"error": f"The user refused this run_cmd {i}."})
               for i in range(3))]
    notes = refusal_notes(calls)
    assert notes == ["run_cmd: refused by the user"] * 3
    assert summary_part(notes) == "3 refused (run_cmd: refused by the user; run_cmd: refused by the user; 1 more)"
