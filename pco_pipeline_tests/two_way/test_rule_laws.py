"""The three-way rule's laws (`merge.decide`), over random values, policies and change times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pco_pipeline.sync.merge import DELETED, NO_BASE, Outcome, Policy, decide

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
values = st.one_of(st.none(), st.sampled_from(["Ann", "ann", "Bob", ""]), st.integers(-1, 3))
sides = st.one_of(values, st.just(DELETED))
bases = st.one_of(values, st.just(NO_BASE))
policies = st.sampled_from(list(Policy))
times = st.one_of(st.none(), st.integers(0, 3).map(lambda n: T0 + timedelta(seconds=n)))
MIRROR = {Policy.PCO: Policy.CHURCH, Policy.CHURCH: Policy.PCO, Policy.NEWEST: Policy.NEWEST,
          Policy.MANUAL: Policy.MANUAL}
MIRRORED = {Outcome.SEND_CHURCH: Outcome.TAKE_PCO, Outcome.TAKE_PCO: Outcome.SEND_CHURCH,
            Outcome.CONFLICT_CHURCH_WINS: Outcome.CONFLICT_PCO_WINS,
            Outcome.CONFLICT_PCO_WINS: Outcome.CONFLICT_CHURCH_WINS}


def after(outcome: Outcome, base, church, pco):
    """(base, church, pco) once the outcome is applied: the winner's value everywhere, unless held."""
    if outcome is Outcome.CONFLICT_HELD:
        return base, church, pco
    value = church if outcome in (Outcome.SEND_CHURCH, Outcome.CONFLICT_CHURCH_WINS, Outcome.AGREE,
                                  Outcome.IN_SYNC) else pco
    return value, value, value


@given(values, policies, times, times)
def test_nothing_changed_is_in_sync(value, policy, church_at, pco_at):
    assert decide(value, value, value, policy, church_at, pco_at) is Outcome.IN_SYNC


@given(values, sides, policies, times, times)
def test_only_the_church_changed_sends_its_value(base, church, policy, church_at, pco_at):
    if church != base:
        assert decide(base, church, base, policy, church_at, pco_at) is Outcome.SEND_CHURCH


@given(values, sides, policies, times, times)
def test_only_pco_changed_takes_its_value(base, pco, policy, church_at, pco_at):
    if pco != base:
        assert decide(base, base, pco, policy, church_at, pco_at) is Outcome.TAKE_PCO


@given(bases, sides, policies, times, times)
def test_both_changed_alike_agree(base, value, policy, church_at, pco_at):
    if value != base:
        assert decide(base, value, value, policy, church_at, pco_at) is Outcome.AGREE


@given(bases, sides, sides, policies, times, times)
def test_conflict_exactly_when_both_changed_differently(base, church, pco, policy, church_at, pco_at):
    outcome = decide(base, church, pco, policy, church_at, pco_at)
    assert outcome.is_conflict == (church != base and pco != base and church != pco)


@given(bases, sides, sides, times, times)
def test_the_policy_decides_conflicts_only(base, church, pco, church_at, pco_at):
    outcomes = {policy: decide(base, church, pco, policy, church_at, pco_at) for policy in Policy}
    if not any(outcome.is_conflict for outcome in outcomes.values()):
        assert len(set(outcomes.values())) == 1
    else:
        assert outcomes[Policy.PCO] is Outcome.CONFLICT_PCO_WINS
        assert outcomes[Policy.CHURCH] is Outcome.CONFLICT_CHURCH_WINS
        assert outcomes[Policy.MANUAL] is Outcome.CONFLICT_HELD
        newest = outcomes[Policy.NEWEST]
        if church_at is None or pco_at is None or church_at == pco_at:
            assert newest is Outcome.CONFLICT_HELD
        else:
            assert newest is (Outcome.CONFLICT_CHURCH_WINS if church_at > pco_at else Outcome.CONFLICT_PCO_WINS)


@given(bases, sides, sides, policies, times, times)
def test_church_and_pco_are_mirror_images(base, church, pco, policy, church_at, pco_at):
    outcome = decide(base, church, pco, policy, church_at, pco_at)
    mirrored = decide(base, pco, church, MIRROR[policy], pco_at, church_at)
    assert mirrored is MIRRORED.get(outcome, outcome)


@given(bases, sides, sides, policies, times, times)
def test_applying_the_outcome_leaves_nothing_to_do(base, church, pco, policy, church_at, pco_at):
    outcome = decide(base, church, pco, policy, church_at, pco_at)
    new_base, new_church, new_pco = after(outcome, base, church, pco)
    if outcome is Outcome.CONFLICT_HELD:
        assert decide(new_base, new_church, new_pco, policy, church_at, pco_at) is Outcome.CONFLICT_HELD
    elif new_church is DELETED:  # the record is gone from both sides, its base dropped: nothing left
        assert new_pco is DELETED
    else:
        assert new_church == new_pco
        assert decide(new_base, new_church, new_pco, policy, church_at, pco_at) is Outcome.IN_SYNC


@pytest.mark.parametrize("policy", list(Policy))
def test_a_deletion_against_an_edit_is_a_conflict(policy):
    assert decide("Ann", DELETED, "Anne", policy).is_conflict
    assert decide("Ann", "Anne", DELETED, policy).is_conflict


def test_a_deletion_against_no_change_propagates_and_both_deleted_agree():
    assert decide("Ann", DELETED, "Ann", Policy.PCO) is Outcome.SEND_CHURCH
    assert decide("Ann", "Ann", DELETED, Policy.CHURCH) is Outcome.TAKE_PCO
    assert decide("Ann", DELETED, DELETED, Policy.MANUAL) is Outcome.AGREE


def test_without_a_base_differing_sides_are_a_conflict_and_equal_sides_agree():
    assert decide(NO_BASE, "Ann", "Anne", Policy.MANUAL) is Outcome.CONFLICT_HELD
    assert decide(NO_BASE, "Ann", "Ann", Policy.MANUAL) is Outcome.AGREE


def test_a_blank_is_a_value_not_a_deletion():
    assert decide("Ann", None, "Ann", Policy.PCO) is Outcome.SEND_CHURCH
    assert decide(None, None, DELETED, Policy.PCO) is Outcome.TAKE_PCO


def test_impossible_inputs_are_refused():
    with pytest.raises(ValueError):
        decide(DELETED, "a", "a", Policy.PCO)
    with pytest.raises(ValueError):
        decide("a", NO_BASE, "a", Policy.PCO)
