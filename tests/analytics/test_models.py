"""Golden tests: hand-made journeys, credits computed by hand, for each of the seven models."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from lab import T0, Lab

from webleads.analytics import markov, reports

D = timedelta(days=1)
M = timedelta(minutes=1)
HEURISTIC = ("first_touch", "last_touch", "last_non_direct", "linear", "position_based", "time_decay")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    lab = Lab(tmp_path / "golden.duckdb")
    yield lab
    lab.close()


def all_models(lab: Lab, **options: object) -> dict[str, dict[str, float]]:
    return {model: lab.credits(model, **options) for model in reports.MODELS}


def test_single_touch_gets_everything_in_every_model(lab: Lab) -> None:
    lab.visit("v1", T0, via="Email").visit("v1", T0 + 2 * M, page="/formation").convert("v1", T0 + 5 * M)
    assert all_models(lab) == {model: {"Email": 1.0} for model in reports.MODELS}


def test_direct_only_journey_is_direct_even_for_last_non_direct(lab: Lab) -> None:
    lab.visit("v1", T0).visit("v1", T0 + 3 * D).convert("v1", T0 + 3 * D + M)
    assert all_models(lab) == {model: {"Direct": 1.0} for model in reports.MODELS}


def test_conversion_without_any_touch_is_credited_to_direct(lab: Lab) -> None:
    # a back office confirms a lead whose visits are older than the lookback window
    lab.visit("v1", T0 - 100 * D, via="Email").convert("v1", T0)
    assert all_models(lab) == {model: {"Direct": 1.0} for model in reports.MODELS}
    row = reports.leads(lab.store)[0]
    assert (row["first_source"], row["path"], row["touches"]) == ("(direct)", "Direct", 0)


def test_repeated_channel_counts_per_touch(lab: Lab) -> None:
    # Email 14 days before, Email 7 days before, Organic Search at the conversion's own instant
    lab.visit("v1", T0 - 14 * D, via="Email").visit("v1", T0 - 7 * D, via="Email")
    lab.visit("v1", T0, via="Organic Search").convert("v1", T0)
    got = all_models(lab)
    assert got["first_touch"] == {"Email": 1.0}
    assert got["last_touch"] == {"Organic Search": 1.0}
    assert got["last_non_direct"] == {"Organic Search": 1.0}
    assert got["linear"] == {"Email": pytest.approx(2 / 3), "Organic Search": pytest.approx(1 / 3)}
    assert got["position_based"] == {"Email": pytest.approx(0.4 + 0.2), "Organic Search": pytest.approx(0.4)}
    # weights 2^-2, 2^-1, 2^0 = 0.25, 0.5, 1 over 1.75
    assert got["time_decay"] == {"Email": pytest.approx(0.75 / 1.75), "Organic Search": pytest.approx(1 / 1.75)}
    # one converting path only: removing either channel kills it, RE 1 and 1
    assert got["markov"] == {"Email": pytest.approx(0.5), "Organic Search": pytest.approx(0.5)}


def test_position_based_with_two_touches_is_half_and_half(lab: Lab) -> None:
    lab.visit("v1", T0 - 2 * D, via="Organic Social").visit("v1", T0, via="Paid Search").convert("v1", T0 + M)
    assert lab.credits("position_based") == {"Organic Social": 0.5, "Paid Search": 0.5}
    assert lab.credits("linear") == {"Organic Social": 0.5, "Paid Search": 0.5}


def test_position_based_middle_touches_share_twenty_percent(lab: Lab) -> None:
    for i, via in enumerate(["Email", "Referral", "Organic Social", "Organic Search"]):
        lab.visit("v1", T0 + i * D, via=via)
    lab.convert("v1", T0 + 3 * D + M)
    assert lab.credits("position_based") == {"Email": 0.4, "Referral": 0.1, "Organic Social": 0.1,
                                             "Organic Search": 0.4}


def test_touches_outside_the_lookback_window_are_ignored(lab: Lab) -> None:
    lab.visit("v1", T0 - 100 * D, via="Referral").visit("v1", T0 - 10 * D, via="Email").convert("v1", T0)
    assert lab.credits("first_touch") == {"Email": 1.0}
    assert lab.credits("linear") == {"Email": 1.0}
    assert lab.credits("first_touch", lookback=120) == {"Referral": 1.0}
    assert lab.credits("linear", lookback=120) == {"Referral": 0.5, "Email": 0.5}
    # the window is inclusive: a touch exactly 10 days before counts with --lookback 10
    assert lab.credits("first_touch", lookback=10) == {"Email": 1.0}
    assert lab.credits("first_touch", lookback=9) == {"Direct": 1.0}


def test_touches_at_the_same_instant_keep_their_arrival_order(lab: Lab) -> None:
    # two landings in the same millisecond: the social one arrived first
    lab.visit("v1", T0, via="Organic Social").visit("v1", T0, via="Organic Search").convert("v1", T0 + M)
    assert lab.credits("first_touch") == {"Organic Social": 1.0}
    assert lab.credits("last_touch") == {"Organic Search": 1.0}
    assert lab.credits("time_decay") == {"Organic Social": 0.5, "Organic Search": 0.5}


def test_several_conversions_of_one_visitor_are_each_attributed(lab: Lab) -> None:
    lab.visit("v1", T0, via="Email").convert("v1", T0 + M, name="reserver-visite")
    lab.visit("v1", T0 + 5 * D, via="Organic Search").convert("v1", T0 + 5 * D + M)
    assert lab.credits("first_touch") == {"Email": 2.0}
    assert lab.credits("last_touch") == {"Email": 1.0, "Organic Search": 1.0}
    assert lab.credits("linear") == {"Email": 1.5, "Organic Search": 0.5}
    assert lab.credits("position_based") == {"Email": 1.5, "Organic Search": 0.5}
    assert lab.credits("last_touch", conversion="candidater") == {"Organic Search": 1.0}
    assert sum(lab.credits("markov").values()) == pytest.approx(2.0)


def test_last_non_direct_skips_a_later_direct_visit(lab: Lab) -> None:
    lab.visit("v1", T0 - 3 * D, via="Email").visit("v1", T0).convert("v1", T0 + M)
    assert lab.credits("last_touch") == {"Direct": 1.0}
    assert lab.credits("last_non_direct") == {"Email": 1.0}


def test_markov_removal_effects_with_a_journey_that_did_not_convert(lab: Lab) -> None:
    # A = Email, B = Organic Search. Paths: A>conv, A>B>conv, B>null.
    # x_B = 1/2, x_A = 1/2 + 1/2 x_B = 3/4, P = 2/3 x_A + 1/3 x_B = 2/3.
    # Without A: P = 1/3 * 1/2 = 1/6, RE_A = 3/4. Without B: P = 2/3 * 1/2 = 1/3, RE_B = 1/2.
    # Credits over 2 conversions: A = 0.75 / 1.25 * 2 = 1.2, B = 0.8.
    lab.visit("v1", T0, via="Email").convert("v1", T0 + M)
    lab.visit("v2", T0, via="Email").visit("v2", T0 + 2 * D, via="Organic Search").convert("v2", T0 + 2 * D + M)
    lab.visit("v3", T0 + D, via="Organic Search")
    assert lab.credits("markov") == {"Email": pytest.approx(1.2), "Organic Search": pytest.approx(0.8)}
    transitions = {("(start)", "A"): 2, ("(start)", "B"): 1, ("A", "(conversion)"): 1, ("A", "B"): 1,
                   ("B", "(conversion)"): 1, ("B", "(null)"): 1}
    assert markov.removal_effects(transitions) == {"A": pytest.approx(0.75), "B": pytest.approx(0.5)}


def test_markov_pools_rare_states_beyond_the_limit() -> None:
    transitions = {("(start)", f"s{i:03d}"): 100 - i for i in range(90)}
    transitions |= {(f"s{i:03d}", "(conversion)"): 1 for i in range(90)}
    transitions |= {(f"s{i:03d}", "(null)"): 99 - i for i in range(90)}
    credits = markov.attribute(transitions, 90)
    assert len(credits) == markov.MAX_STATES and "(other)" in credits
    assert sum(credits.values()) == pytest.approx(90)


def test_date_range_is_in_local_days_and_bots_are_left_out(lab: Lab) -> None:
    # 23:30 UTC on the day before T0 is 00:30 or 01:30 in Paris: the local day of T0
    late = T0.replace(hour=23, minute=30) - D
    lab.visit("v1", late - M, via="Email").convert("v1", late)
    lab.visit("bot", T0, via="Referral", bot=True).convert("bot", T0 + M, bot=True)
    day = T0.date().isoformat()
    assert lab.credits("last_touch", from_day=day, to_day=day) == {"Email": 1.0}
    assert lab.credits("last_touch", from_day=day, to_day=day, tz="UTC") == {}
    assert lab.credits("last_touch", include_bots=True) == {"Email": 1.0, "Referral": 1.0}


def test_reports_by_other_dimensions(lab: Lab) -> None:
    lab.visit("v1", T0 - 2 * D, via="Email", page="/formation").visit("v1", T0, via="Organic Search")
    lab.convert("v1", T0 + M)
    assert lab.credits("first_touch", by="campaign") == {"nov": 1.0}
    assert lab.credits("last_touch", by="source") == {"google": 1.0}
    assert lab.credits("last_touch", by="referrer_domain") == {"google.fr": 1.0}
    assert lab.credits("first_touch", by="landing_page") == {"/formation": 1.0}
    assert lab.credits("markov", by="medium") == {"email": 0.5, "organic": 0.5}


def test_few_conversions_are_flagged(lab: Lab) -> None:
    lab.visit("v1", T0, via="Email").convert("v1", T0 + M).commit()
    result = reports.attribution(lab.store, model="markov")
    assert result.conversions == 1
    assert any("Only 1 conversion" in n for n in result.notes)
    assert any("Markov" in n for n in result.notes)
    assert result[0] == {"channel": "Email", "conversions": 1.0, "share": 1.0, "touched_conversions": 1}
