from driftless.core import conditions as cond


def test_transition_time_moves_only_when_status_flips() -> None:
    first = cond.set_condition(
        [], cond.READY, False, "Progressing", "x", now="2026-01-01T00:00:00Z"
    )
    same = cond.set_condition(first, cond.READY, False, "Other", "y", now="2026-01-02T00:00:00Z")
    flipped = cond.set_condition(same, cond.READY, True, "Synced", "z", now="2026-01-03T00:00:00Z")
    assert same[0].last_transition_time == "2026-01-01T00:00:00Z"
    assert same[0].reason == "Other"
    assert flipped[0].last_transition_time == "2026-01-03T00:00:00Z"
    assert cond.is_true(flipped, cond.READY)


def test_ordered_puts_ready_first() -> None:
    conditions = cond.set_condition([], cond.STALLED, True, "Stalled", "")
    conditions = cond.set_condition(conditions, cond.READY, False, "Stalled", "")
    assert [c.type for c in cond.ordered(conditions)] == ["Ready", "Stalled"]
