"""Prompt-lookup drafting for speculative decoding: where the reply copies the prompt (a function
written back with a small change), the tokens that follow the reply's last few tokens in the
prompt are a good guess of what comes next. The model checks a guess of k tokens in one batch
(k + 1 positions), about as fast as one token on a CPU that is waiting for memory, and keeps
the guessed tokens it would have sampled anyway.

A draft costs time whether or not it is accepted, so this drafts only when it pays: the match
must be at least `min_match` tokens long, and the draft length is the one that maximises the
expected tokens per second, from the acceptance seen so far in this reply and the measured cost
of a batch of k + 1 positions relative to one. Prose, where guesses mostly fail, gets few and
short drafts, then none for a while.

No llama.cpp here: llama_server.py feeds this class the tokens and the batch timings.
"""

from __future__ import annotations

import numpy as np

MIN_MATCH = 3  # a shorter match is a guess from a word or two: mostly wrong
MAX_MATCH = 12  # matching further back only breaks ties
MAX_DRAFT = 24
PRIOR = (1.0, 1.0)  # acceptance prior (accepted, rejected) for a reply nothing is known about yet
DECAY = 0.97  # weight of the past per emitted token: a reply moves from prose to copied code and
# back, and a failed guess stops drafting for a while (~35 tokens), not for the rest of the reply
MIN_GAIN = 1.1  # expected speed-up a draft must promise (measurement noise, the lookup's own time)
DEFAULT_SLOPE = 0.3  # extra cost of each more position in a batch, relative to one (then measured)
MAX_SLOPE = 1.5  # one observation counts at most this much (a batch that waited for a busy CPU)
RELAX = 0.02  # per single-token batch, towards DEFAULT_SLOPE


def find_continuation(ids: np.ndarray, min_match: int = MIN_MATCH, max_match: int = MAX_MATCH) -> tuple[int, int]:
    """(start, match length) of the longest earlier occurrence of the sequence's last tokens (the
    latest of equally long ones), where `start` is the position after it; (-1, 0) if none is at
    least `min_match` long."""
    n = len(ids)
    if n <= min_match:
        return -1, 0
    candidates = np.flatnonzero(ids[: n - 1] == ids[n - 1])
    if len(candidates) == 0:
        return -1, 0
    length = 1
    for back in range(1, max_match):
        previous = candidates - back
        keep = previous >= 0
        keep[keep] = ids[previous[keep]] == ids[n - 1 - back]
        if not keep.any():
            break
        candidates, length = candidates[keep], length + 1
    if length < min_match:
        return -1, 0
    return int(candidates[-1]) + 1, length


def expected_tokens(acceptance: float, k: int) -> float:
    """Tokens one verification of k drafted tokens yields: the accepted run plus the model's own
    next token (sum of acceptance**i for i = 0..k)."""
    if acceptance >= 1.0:
        return k + 1.0
    return (1.0 - acceptance ** (k + 1)) / (1.0 - acceptance)


def best_length(acceptance: float, slope: float, limit: int) -> int:
    """The draft length with the most expected tokens per unit of time (0: do not draft)."""
    best, best_rate = 0, MIN_GAIN
    for k in range(1, limit + 1):
        rate = expected_tokens(acceptance, k) / (1.0 + slope * k)
        if rate > best_rate:
            best, best_rate = k, rate
    return best


class PromptLookup:
    """The draft model Llama.generate() calls: `draft(ids)` -> tokens to check. Per request:
    `start()`, then `observe(token)` for every token the model emits, in order."""

    def __init__(self, min_match: int = MIN_MATCH, max_draft: int = MAX_DRAFT):
        self.min_match = min_match
        self.max_draft = max_draft
        self.slope = DEFAULT_SLOPE
        self._single: float | None = None  # seconds for a batch of one position (generation phase)
        self.start()

    # --- one reply ---

    def start(self) -> None:
        self.drafted = 0  # tokens proposed in this reply
        self.accepted = 0  # of which the model emitted
        self._hits, self._misses = 0.0, 0.0  # decayed evidence on acceptance
        self._draft: list[int] = []
        self._checked = 0  # how many of the open draft the emitted tokens have matched

    def acceptance(self, match: int = 0) -> float:
        """The chance that the next drafted token is accepted. A match of m tokens counts as
        evidence too: the reply has just written m - 1 tokens that this draft's source predicted."""
        hits = self._hits + PRIOR[0] + max(match - self.min_match + 1, 0)
        misses = self._misses + PRIOR[1]
        return hits / (hits + misses)

    def __call__(self, input_ids: np.ndarray, /, **_: object) -> np.ndarray:
        self._close(rejected=False)  # a draft still open here was accepted whole
        start, match = find_continuation(np.asarray(input_ids), self.min_match)
        if start < 0:
            return np.array([], dtype=np.intc)
        available = len(input_ids) - start
        k = best_length(self.acceptance(match), self.slope, min(self.max_draft, available))
        if k == 0:
            return np.array([], dtype=np.intc)
        draft = np.asarray(input_ids[start : start + k], dtype=np.intc)
        self._draft, self._checked = draft.tolist(), 0
        self.drafted += k
        return draft

    def observe(self, token: int) -> None:
        """A token the model emitted: it confirms the open draft's next token or ends the draft."""
        self._hits *= DECAY
        self._misses *= DECAY
        if self._checked >= len(self._draft):
            return
        if token == self._draft[self._checked]:
            self._checked += 1
            self.accepted += 1
            if self._checked == len(self._draft):
                self._close(rejected=False)
        else:
            self._close(rejected=True)

    def _close(self, rejected: bool) -> None:
        if not self._draft:
            return
        self._hits += self._checked
        self._misses += 1 if rejected else 0
        self._draft, self._checked = [], 0

    # --- cost of a batch, measured by the server ---

    def batch_time(self, positions: int, seconds: float) -> None:
        """How long a generation-phase batch of `positions` took: learns the cost slope. A batch of
        one also pulls the slope back towards its default a little: a slope learned while the
        machine was busy would otherwise stop drafting for good (it is only measured by drafting)."""
        if positions == 1:
            self._single = seconds if self._single is None else 0.8 * self._single + 0.2 * seconds
            self.slope += (DEFAULT_SLOPE - self.slope) * RELAX
        elif self._single:
            observed = min(max((seconds / self._single - 1.0) / (positions - 1), 0.0), MAX_SLOPE)
            self.slope = 0.8 * self.slope + 0.2 * observed
