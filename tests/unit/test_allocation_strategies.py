"""Allocation strategies by example, the restriction filter, and the property every registered
strategy keeps: never more than a candidate has available, never more than a line needs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from legato.domain.errors import ValidationFailed
from legato.domain.inventory.allocation import (
    Candidate,
    Destination,
    Need,
    Pick,
    Site,
    atp,
    destination,
    serves,
)
from legato.domain.inventory.strategies import REGISTRY, check_strategy, get_strategy
from legato.domain.inventory.strategies.nearest import haversine_km

D = Decimal
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def cand(
    lid: int, priority: int = 0, lat: str | None = None, lon: str | None = None, **stock: Any
) -> Candidate:
    return Candidate(lid, f"L{lid}", priority, D(lat) if lat else None, D(lon) if lon else None,
                     {k: D(v) for k, v in stock.items()})  # fmt: skip


def plan(
    name: str, needs: list[Need], cands: list[Candidate], ship_to: Any = None, **params: Any
) -> set[Any]:
    picks = get_strategy(name).plan(needs, cands, ship_to, params)
    return {(p.line_no, p.location_id, p.quantity) for p in picks}


def test_priority_takes_the_highest_priority_location_first_and_splits_what_it_lacks() -> None:
    cands = [cand(1, 1, A=5), cand(2, 9, A=3), cand(3, 5, A=10)]
    assert plan("priority", [Need(1, "A", D(6))], cands) == {(1, 2, D(3)), (1, 3, D(3))}


def test_nearest_takes_the_closest_location_to_the_ship_to_coordinates() -> None:
    london = {"latitude": "51.5074", "longitude": "-0.1278"}
    cands = [cand(1, 9, "53.4808", "-2.2426", A=5), cand(2, 0, "51.4545", "-2.5879", A=5), cand(3, 5, A=5)]
    picks = get_strategy("nearest").plan([Need(1, "A", D(7))], cands, london, {})
    # Bristol (~170 km) before Manchester (~260 km); the one without coordinates last
    assert [(p.location_id, p.quantity, p.strategy) for p in picks] == [
        (2, D(5), "nearest"),
        (1, D(2), "nearest"),
    ]


def test_nearest_without_coordinates_falls_back_to_priority_and_says_so() -> None:
    cands = [cand(1, 1, "51.5", "-0.1", A=5), cand(2, 9, "55.9", "-3.2", A=5)]
    picks = get_strategy("nearest").plan([Need(1, "A", D(2))], cands, {"country": "GB"}, {})
    assert [(p.location_id, p.strategy) for p in picks] == [(2, "nearest>priority")]


def test_haversine_matches_a_known_distance() -> None:
    # London to Paris is about 344 km
    assert 340 < haversine_km((51.5074, -0.1278), (48.8566, 2.3522)) < 348


def test_single_location_prefers_one_location_with_every_line_over_a_higher_priority_split() -> None:
    needs = [Need(1, "A", D(2)), Need(2, "B", D(1))]
    cands = [cand(1, 9, A=5), cand(2, 1, A=2, B=1), cand(3, 5, A=2, B=4)]
    # both 2 and 3 have everything: the higher priority (3) wins
    assert plan("single_location", needs, cands) == {(1, 3, D(2)), (2, 3, D(1))}


def test_single_location_counts_lines_of_one_sku_against_the_same_stock() -> None:
    needs = [Need(1, "A", D(3)), Need(2, "A", D(3))]
    cands = [cand(1, 9, A=4), cand(2, 1, A=6)]
    assert plan("single_location", needs, cands) == {(1, 2, D(3)), (2, 2, D(3))}


def test_single_location_without_a_full_location_covers_most_lines_first_then_splits() -> None:
    needs = [Need(1, "A", D(1)), Need(2, "B", D(1)), Need(3, "C", D(4))]
    cands = [cand(1, 9, C=2), cand(2, 1, A=1, B=1, C=1), cand(3, 0, C=2)]
    # location 2 covers lines 1 and 2 in full; line 3 is met nowhere in full: by priority, 1, 2, 3
    assert plan("single_location", needs, cands) == {
        (1, 2, D(1)), (2, 2, D(1)), (3, 1, D(2)), (3, 2, D(1)), (3, 3, D(1))
    }  # fmt: skip


def test_fifo_takes_the_location_with_the_oldest_stock_first() -> None:
    old, new = T0, T0 + timedelta(days=30)
    cands = [
        Candidate(1, "L1", 9, available={"A": D(4)}, oldest={"A": new}),
        Candidate(2, "L2", 0, available={"A": D(4)}, oldest={"A": old}),
        Candidate(3, "L3", 5, available={"A": D(4)}),
    ]
    assert plan("fifo", [Need(1, "A", D(6))], cands) == {(1, 2, D(4)), (1, 1, D(2))}


def test_rule_sends_a_category_to_its_location_and_the_rest_to_the_fallback() -> None:
    needs = [
        Need(1, "SOFA", D(1), category="furniture"),
        Need(2, "LAMP", D(2)),
        Need(3, "RUG", D(1), tags=("bulky",)),
    ]
    cands = [cand(1, 9, SOFA=5, LAMP=5, RUG=5), Candidate(2, "ASM", 0, available={"SOFA": D(3)}),
             Candidate(3, "BIG", 0, available={"RUG": D(1)})]  # fmt: skip
    params = {"categories": {"furniture": "ASM"}, "tags": {"bulky": "BIG"}, "fallback": "priority"}
    picks = get_strategy("rule").plan(needs, cands, None, params)
    assert {(p.line_no, p.location_id, p.quantity, p.strategy) for p in picks} == {
        (1, 2, D(1), "rule"),
        (3, 3, D(1), "rule"),
        (2, 1, D(2), "rule>priority"),
    }


def test_rule_never_takes_a_mapped_line_from_elsewhere() -> None:
    needs = [Need(1, "SOFA", D(4), category="furniture")]
    cands = [cand(1, 9, SOFA=10), Candidate(2, "ASM", 0, available={"SOFA": D(1)})]
    assert plan("rule", needs, cands, categories={"furniture": "ASM"}) == {(1, 2, D(1))}


@pytest.mark.parametrize(
    ("name", "params", "path"),
    [
        ("nope", {}, "s.strategy"),
        ("priority", {"x": 1}, "s.params.x"),
        ("rule", {"categories": {"furniture": 3}}, "s.params.categories.furniture"),
        ("rule", {"categories": {"a": "B"}, "fallback": "rule"}, "s.params.fallback"),
        ("rule", {}, "s.params"),
    ],
)
def test_bad_strategy_or_params_are_refused_with_their_path(
    name: str, params: Mapping[str, Any], path: str
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        check_strategy(name, params, "s.strategy", "s.params")
    assert exc.value.issues[0].path == path


def test_the_restriction_filter() -> None:
    web_gb = Destination("WEB", "GB")
    assert serves(Site(1, "A"), web_gb)
    assert not serves(Site(1, "A", active=False), web_gb)
    assert not serves(Site(1, "A", channels=["POS"]), web_gb)
    assert serves(Site(1, "A", channels=["WEB"]), web_gb)
    assert not serves(Site(1, "A", regions=["FR"]), web_gb)
    assert serves(Site(1, "A", regions=["gb"]), web_gb)
    assert not serves(Site(1, "A", ships=False), web_gb)
    assert not serves(Site(1, "A", atp_rules={"WEB": {"excluded": True}}), web_gb)
    assert not serves(Site(1, "SUP", kind="supplier"), web_gb)
    pickup = Destination("WEB", "GB", pickup_code="SHOP1")
    assert serves(Site(1, "SHOP1", ships=False, pickup=True), pickup)
    assert not serves(Site(2, "WH"), pickup)


def test_atp_holds_back_both_safety_stocks_and_never_goes_negative() -> None:
    site = Site(1, "A", safety_stock=D(2), atp_rules={"WEB": {"safety_stock": "3"}})
    assert atp(D(10), D(1), site, "WEB") == D(4)
    assert atp(D(10), D(1), site, "POS") == D(7)
    assert atp(D(4), D(1), site, "WEB") == D(0)


def test_destination_reads_the_country_and_the_pickup_point() -> None:
    assert destination({"country": "gb", "pickup_location": "SHOP1"}, "WEB") == Destination(
        "WEB", "GB", "SHOP1"
    )
    assert destination(None, None) == Destination()


# --- the property --------------------------------------------------------------------------------

SKUS = ["A", "B", "C"]
qty = st.integers(min_value=0, max_value=12).map(D)


@st.composite
def problems(draw: Any) -> tuple[list[Need], list[Candidate], Any]:
    n_lines = draw(st.integers(1, 5))
    needs = [
        Need(i + 1, draw(st.sampled_from(SKUS)), D(draw(st.integers(1, 12))),
             draw(st.sampled_from([None, "furniture", "toys"])),
             tuple(draw(st.lists(st.sampled_from(["bulky", "x"]), max_size=2))))
        for i in range(n_lines)
    ]  # fmt: skip
    cands = []
    for lid in range(1, draw(st.integers(0, 4)) + 1):
        coords = draw(st.one_of(st.none(), st.tuples(st.integers(-80, 80), st.integers(-170, 170))))
        cands.append(Candidate(
            lid, f"L{lid}", draw(st.integers(-3, 3)),
            D(coords[0]) if coords else None, D(coords[1]) if coords else None,
            {sku: draw(qty) for sku in draw(st.lists(st.sampled_from(SKUS), unique=True))},
            {sku: T0 + timedelta(days=draw(st.integers(0, 9)))
             for sku in draw(st.lists(st.sampled_from(SKUS), unique=True))},
        ))  # fmt: skip
    ship_to = draw(st.one_of(st.none(), st.just({"latitude": "51.5", "longitude": "-0.1"})))
    return needs, cands, ship_to


PARAMS: dict[str, dict[str, Any]] = {
    "rule": {"categories": {"furniture": "L2"}, "tags": {"bulky": "L1"}, "fallback": "single_location"},
}


@pytest.mark.parametrize("name", sorted(REGISTRY))
@settings(max_examples=150, deadline=None)
@given(problem=problems())
def test_no_strategy_picks_beyond_what_is_available_or_needed(name: str, problem: Any) -> None:
    needs, cands, ship_to = problem
    picks: list[Pick] = get_strategy(name).plan(needs, cands, ship_to, PARAMS.get(name, {}))
    need = {n.line_no: n for n in needs}
    by_line: dict[int, Decimal] = {}
    by_stock: dict[tuple[int, str], Decimal] = {}
    ids = {c.location_id for c in cands}
    for p in picks:
        assert p.quantity > 0 and p.location_id in ids and p.line_no in need
        by_line[p.line_no] = by_line.get(p.line_no, D(0)) + p.quantity
        key = (p.location_id, need[p.line_no].sku)
        by_stock[key] = by_stock.get(key, D(0)) + p.quantity
    for line_no, got in by_line.items():
        assert got <= need[line_no].quantity
    available = {(c.location_id, sku): q for c in cands for sku, q in c.available.items()}
    for key, got in by_stock.items():
        assert got <= available.get(key, D(0))
    # and it is not lazy: with no mapped lines, a line goes short only when its SKU is gone everywhere
    if name != "rule":
        for n in needs:
            if by_line.get(n.line_no, D(0)) < n.quantity:
                keys = [(c.location_id, n.sku) for c in cands]
                left = sum(available.get(k, D(0)) - by_stock.get(k, D(0)) for k in keys)
                assert left == 0
