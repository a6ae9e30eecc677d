"""The prompt-lookup drafter on its own (no llama.cpp): what it finds, when it drafts, how long.

`decode` below plays llama-cpp-python's generate() loop against a known reply: each round the
drafter proposes, the "model" emits the reply's tokens while they match the draft and one more
(the verification), and the round costs 1 + slope * (drafted tokens) single-token decodes."""

from __future__ import annotations

import numpy as np
import pytest

from agent_runtime.models.prompt_lookup import PromptLookup, best_length, expected_tokens, find_continuation


def ids(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.intc)


def decode(prompt: list[int], reply: list[int], slope: float) -> tuple[float, PromptLookup]:
    """(plain decoding time / speculative decoding time, the drafter) for this reply."""
    drafter = PromptLookup()
    drafter.start()
    drafter.slope = slope
    context, cost, i = list(prompt) + [reply[0]], 0.0, 1
    drafter.observe(reply[0])
    while i < len(reply):
        draft = drafter(np.array(context, dtype=np.intc)).tolist()
        cost += 1 + slope * len(draft)
        for j in range(len(draft) + 1):  # the model emits a token per checked position
            token = reply[i]
            context.append(token)
            drafter.observe(token)
            i += 1
            if i >= len(reply) or j >= len(draft) or token != draft[j]:
                break
    return (len(reply) - 1) / cost, drafter


def test_the_longest_match_wins_then_the_latest():
    # ... 5 6 7 | 9 ... and later ... 6 7 | 8 ...; the sequence ends in 5 6 7: the longer match wins
    start, length = find_continuation(ids(5, 6, 7, 9, 1, 6, 7, 8, 2, 5, 6, 7))
    assert (start, length) == (3, 3)
    # two equally long matches: the later one
    start, length = find_continuation(ids(1, 2, 3, 4, 0, 1, 2, 3, 5, 0, 1, 2, 3))
    assert (start, length) == (8, 4)


def test_no_draft_from_a_short_match_or_none():
    assert find_continuation(ids(1, 2, 9, 1, 2)) == (-1, 0), "two tokens are not enough"
    assert find_continuation(ids(1, 2, 3, 4)) == (-1, 0)
    assert find_continuation(ids(3)) == (-1, 0)
    drafter = PromptLookup()
    assert len(drafter(ids(1, 2, 9, 1, 2))) == 0


def test_draft_length_follows_acceptance_and_cost():
    assert expected_tokens(0.0, 5) == 1.0 and expected_tokens(1.0, 5) == 6.0
    assert best_length(0.2, 0.3, 16) == 0, "mostly rejected: drafting would be slower"
    assert 0 < best_length(0.7, 0.3, 16) < best_length(0.95, 0.3, 16) <= 16
    assert best_length(0.95, 0.1, 24) > best_length(0.95, 0.6, 24), "cheaper batches: longer drafts"


def test_a_copied_function_decodes_in_far_fewer_rounds():
    rng = np.random.default_rng(1)
    code = rng.integers(0, 5000, 400).tolist()
    prompt = rng.integers(0, 5000, 1500).tolist() + code + rng.integers(0, 5000, 200).tolist()
    prose = rng.integers(0, 5000, 60).tolist()
    edited = code[:200] + [11, 12, 13] + code[203:]  # the function written back with one change
    speedup, drafter = decode(prompt, prose + edited, slope=0.3)
    assert speedup > 1.8
    assert drafter.accepted > 0.9 * drafter.drafted


def test_prose_is_not_slower_even_when_it_quotes_the_prompt():
    rng = np.random.default_rng(2)
    prompt = rng.integers(0, 5000, 2000).tolist()
    reply: list[int] = []
    while len(reply) < 400:  # phrases of 3-5 tokens from the prompt between new words
        if rng.random() < 0.3:
            at = int(rng.integers(0, len(prompt) - 10))
            reply += prompt[at : at + int(rng.integers(3, 6))]
        else:
            reply += rng.integers(0, 5000, int(rng.integers(1, 6))).tolist()
    for slope in (0.1, 0.3, 0.6):
        speedup, drafter = decode(prompt, reply, slope)
        assert speedup >= 0.98, (slope, speedup, drafter.drafted, drafter.accepted)


def test_rejected_guesses_pause_drafting_and_it_resumes_later():
    drafter = PromptLookup()
    drafter.slope = 0.3
    context = [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3]
    first = drafter(np.array(context, dtype=np.intc)).tolist()
    assert first and first[0] == 4
    drafter.observe(99)  # the model wrote something else
    assert drafter.drafted == len(first) and drafter.accepted == 0
    context += [99, 1, 2, 3]
    second = drafter(np.array(context, dtype=np.intc)).tolist()
    assert len(second) < len(first) or not second, "less confident after a miss"
    if second:
        drafter.observe(98)
        context += [98, 1, 2, 3]
    assert len(drafter(np.array(context, dtype=np.intc))) == 0, "no more guesses after two misses"
    for token in range(100, 160):  # later in the reply, the failures have faded
        drafter.observe(token)
    assert len(drafter(np.array(context + list(range(100, 160)) + [1, 2, 3], dtype=np.intc))) > 0


def test_accepted_tokens_are_counted_in_order():
    drafter = PromptLookup()
    drafter.slope = 0.05
    context = list(range(10, 40)) + [10, 11, 12]
    draft = drafter(np.array(context, dtype=np.intc)).tolist()
    assert draft[:3] == [13, 14, 15]
    for token in (13, 14, 77):
        drafter.observe(token)
    assert drafter.accepted == 2 and drafter.drafted == len(draft)
    drafter.observe(15)  # after the rejection, nothing more counts for that draft
    assert drafter.accepted == 2
    drafter.start()
    assert drafter.drafted == drafter.accepted == 0, "counts are per reply"


@pytest.mark.parametrize("ratio, expected", [(1.3, 0.3), (2.0, 1.0), (9.0, 1.5)])
def test_the_cost_slope_is_learned_from_batch_times(ratio, expected):
    drafter = PromptLookup()
    for _ in range(200):
        drafter.batch_time(1, 0.040)
        drafter.batch_time(2, 0.040 * ratio)
    assert drafter.slope == pytest.approx(expected, abs=0.1)


def test_a_slope_learned_on_a_busy_machine_does_not_stop_drafting_for_good():
    drafter = PromptLookup()
    for _ in range(50):
        drafter.batch_time(1, 0.040)
        drafter.batch_time(8, 0.040 * 12)  # each more position cost 1.5x a token: no draft pays
    assert best_length(0.95, drafter.slope, 24) == 0
    for _ in range(150):  # plain decoding, no draft to measure
        drafter.batch_time(1, 0.040)
    assert best_length(0.95, drafter.slope, 24) > 0, "drafting is tried again"
