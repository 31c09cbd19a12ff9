"""The retry delay: exponential (base x 2^(attempt-1)), capped, with full jitter."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from legato.workflow.runner import backoff

attempts = st.integers(min_value=1, max_value=100_000)
bases = st.floats(min_value=0.01, max_value=60, allow_nan=False)
caps = st.floats(min_value=1, max_value=86_400, allow_nan=False)
draws = st.floats(min_value=0, max_value=1, exclude_max=True)


@given(attempts, bases, caps, draws)
def test_a_delay_is_never_negative_nor_past_the_exponential_ceiling_or_the_cap(
    attempt: int, base: float, cap: float, draw: float
) -> None:
    delay = backoff(attempt, base=base, cap=cap, rand=lambda: draw)
    assert 0 <= delay <= min(cap, base * 2 ** min(attempt - 1, 64))


@given(attempts, bases, caps)
def test_full_jitter_spans_from_zero_to_the_ceiling(attempt: int, base: float, cap: float) -> None:
    ceiling = min(cap, base * 2 ** min(attempt - 1, 64))
    assert backoff(attempt, base=base, cap=cap, rand=lambda: 0.0) == 0
    assert backoff(attempt, base=base, cap=cap, rand=lambda: 0.999999) >= ceiling * 0.99


def test_the_ceilings_double_from_the_base_until_the_cap() -> None:
    top = [backoff(n, base=2, cap=3600, rand=lambda: 1.0) for n in range(1, 15)]
    assert top[:6] == [2, 4, 8, 16, 32, 64]
    assert top[-1] == 3600 and all(b <= 3600 for b in top)


def test_the_default_draws_are_spread_over_the_whole_range() -> None:
    delays = [backoff(5) for _ in range(2000)]  # ceiling 32 s
    assert min(delays) < 4 and max(delays) > 28 and all(0 <= d < 32 for d in delays)
