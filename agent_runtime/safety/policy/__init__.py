"""The command policy (docs/architecture.md, "The one path of a tool call", step 2): allow /
ask / deny for a tool's action.

    rules.py     the policy file: rules as data, its keys and types checked strictly
    paths.py     paths as written and resolved, globs and braces, the deny_read / deny_write lists
    history.py   does the repository's index or history hold deny_read files?
    floors.py    what holds whatever the rules say (secrets, writes, code that cannot be judged)
    engine.py    the policy itself: rules and floors per simple command, the strictest wins
"""

from __future__ import annotations

from agent_runtime.safety.policy.engine import SHIPPED_POLICY, Policy
from agent_runtime.safety.policy.floors import INSTRUCTIONS_REASON, PINNED_FLOORS, ROUTINE_FLOORS, USER_LOWERABLE
from agent_runtime.safety.policy.history import find_repository
from agent_runtime.safety.policy.paths import Place, candidates, expand_braces, glob_match
from agent_runtime.safety.policy.rules import DECISIONS, PolicyError, Rule, Verdict, stricter

__all__ = ["DECISIONS", "INSTRUCTIONS_REASON", "PINNED_FLOORS", "ROUTINE_FLOORS", "SHIPPED_POLICY", "USER_LOWERABLE",
           "Place", "Policy", "PolicyError", "Rule", "Verdict", "candidates", "expand_braces", "find_repository",
           "glob_match", "stricter"]
