"""The next-best-action queue (expected value, weekly capacity, cooldown, seeded holdout, lift) and the playbooks'
validation (errors name the file and the field)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from agent_world import DAY, World, tick
from sqlalchemy import select

from actions.lift import playbook_lift
from actions.playbook import PLAYBOOK_DIR, PlaybookError, load_playbook, load_playbooks
from actions.policy import load_policy
from actions.summary import top_of_queue
from actions.tick import run_tick
from csops.opdb.models import Action, HoldoutAssignment

PROMOTER = {"latest_nps_score": 10.0, "health_band": "green"}  # triggers the reference request




def requests(session) -> list[Action]:
    return list(session.scalars(select(Action).where(Action.playbook == "reference_request").order_by(Action.rank)))


def test_the_queue_ranks_by_expected_value_within_the_owner_s_weekly_capacity(session):
    policy = load_policy().replace(holdout_share=0.0, capacity_per_week={
        "csm": 3, "cs_director": 6, "account_executive": 6, "support_lead": 6})
    world = World()
    for i in range(6):
        world.add(f"P{i}", **PROMOTER, active_arr_amount=10_000.0 * (i + 1), expansion_probability=0.5)
    tick(world, session, policy=policy)
    ranked = [(a.account_id, a.status, a.rank) for a in requests(session)]
    assert ranked[:3] == [("P5", "queued", 1), ("P4", "queued", 2), ("P3", "queued", 3)]
    assert [status for _, status, _ in ranked[3:]] == ["deferred"] * 3  # kept, not dropped
    # expected value of an expansion play: ARR x policy share (0.2) x propensity
    assert requests(session)[0].expected_value == pytest.approx(60_000 * 0.2 * 0.5)
    top = top_of_queue(session, 10, owner="csm_ann")
    assert [r["account_id"] for r in top if r["playbook"] == "reference_request"] == ["P5", "P4", "P3"]


def test_a_playbook_is_not_proposed_again_within_its_cooldown(session):
    policy = load_policy().replace(holdout_share=0.0)
    world = World().add("P1", **PROMOTER)
    tick(world, session, policy=policy)
    tick(world.set("P1", latest_nps_score=6.0), session, day=DAY + timedelta(days=1), policy=policy)
    assert [a.status for a in requests(session)] == ["resolved"]
    tick(world.set("P1", latest_nps_score=10.0), session, day=DAY + timedelta(days=30), policy=policy)
    assert len(requests(session)) == 1  # cooldown 90 days
    tick(world, session, day=DAY + timedelta(days=90), policy=policy)
    assert [a.status for a in requests(session)].count("queued") == 1 and len(requests(session)) == 2


def test_the_seeded_holdout_is_recorded_once_per_account_and_playbook_and_gets_no_action(session):
    policy = load_policy().replace(holdout_share=0.3, holdout_seed=7)
    world = World()
    for i in range(40):
        world.add(f"P{i:02d}", **PROMOTER)
    tick(world, session, policy=policy)
    drawn = {h.account_id: h.in_holdout for h in session.scalars(
        select(HoldoutAssignment).where(HoldoutAssignment.playbook == "reference_request"))}
    assert len(drawn) == 40 and 4 <= sum(drawn.values()) <= 20
    acted = {a.account_id for a in requests(session)}
    assert acted == {a for a, held in drawn.items() if not held}
    assert {h.seed for h in session.scalars(select(HoldoutAssignment))} == {7}
    tick(world, session, day=DAY + timedelta(days=1), policy=policy.replace(holdout_seed=8))
    again = {h.account_id: h.in_holdout for h in session.scalars(
        select(HoldoutAssignment).where(HoldoutAssignment.playbook == "reference_request"))}
    assert again == drawn  # drawn once: a later seed does not move an account between the arms
    # exempt playbooks (the save play, the handoff loop) are never withheld
    assert not session.scalars(select(HoldoutAssignment).where(HoldoutAssignment.playbook == "success_plan")).all()


def test_lift_per_playbook_has_a_confidence_interval_once_outcomes_are_known(session):
    policy = load_policy().replace(holdout_share=0.5, holdout_seed=3, lift_outcome_days=30)
    world = World()
    for i in range(30):
        world.add(f"P{i:02d}", **PROMOTER)
    con = world.write()
    run_tick(con, session, policy=policy)
    session.commit()
    pending = playbook_lift(con, session, policy, DAY)
    row = pending[(pending.playbook == "reference_request") & (pending.metric == "health_change")].iloc[0]
    assert row.status.startswith("outcomes not known yet") and row.pending_n == 30
    # 30 days later: treated accounts gained 5 health points, held-out ones 1 (plus noise)
    arms = {h.account_id: h.in_holdout for h in session.scalars(select(HoldoutAssignment))
            if h.playbook == "reference_request"}
    later = DAY + timedelta(days=30)
    rows = [{"account_id": a, "date_day": d, "health_score": 80.0 + (0 if d == DAY else (1 if held else 5) + (i % 3) * 0.5), "health_band": "green"} for i, (a, held) in enumerate(sorted(arms.items()))
            for d in (DAY, later)]
    con.register("frame", pd.DataFrame(rows))
    con.execute("create or replace table marts.fct_account_health as select * from frame")
    lift = playbook_lift(con, session, policy, later)
    row = lift[(lift.playbook == "reference_request") & (lift.metric == "health_change")].iloc[0]
    assert row.status == "known" and row.treated_n + row.holdout_n == 30
    assert row.lift == pytest.approx(4.0, abs=0.5) and row.ci_low < row.lift < row.ci_high and row.ci_low > 2


def test_every_shipped_playbook_loads_and_the_issue_s_playbooks_are_there():
    books = load_playbooks()
    assert {"licence_optimisation", "value_realisation_roadmap", "targeted_training", "director_escalation",
            "fetch_missing_anchors", "executive_business_review", "save_plan", "reference_request", "warm_intro_ae",
            "postmortem_winback"} <= set(books)
    assert books["save_plan"].needs_approval and books["save_plan"].owner_role == "cs_director"
    assert books["director_escalation"].owner_role == "cs_director" and books["warm_intro_ae"].any_of


@pytest.mark.parametrize("change, message", [
    (lambda d: d["trigger"]["all"][0].update(signal="unused"), "trigger.all[0].signal: unknown signal 'unused'"),
    (lambda d: d["trigger"]["all"][0].update(op="~"), "trigger.all[0]: op: '~' is not one of"),
    (lambda d: d.pop("owner_role"), "owner_role: required"),
    (lambda d: d.update(owner_role="cfo"), "owner_role: 'cfo' is not one of"),
    (lambda d: d.update(priority=9), "priority: expected 1 to 5"),
    (lambda d: d.update(cooldown_days="soon"), "cooldown_days: expected int"),
    (lambda d: d.pop("severity"), "severity: required with risk_kind"),
    (lambda d: d.update(colour="red"), "colour: unknown field"),
])
def test_a_bad_playbook_fails_with_the_file_and_the_field(tmp_path, change, message):
    import yaml

    data = yaml.safe_load((PLAYBOOK_DIR / "licence_optimisation.yaml").read_text())
    change(data)
    path = tmp_path / "licence_optimisation.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(PlaybookError) as error:
        load_playbook(path)
    assert str(error.value).startswith("licence_optimisation.yaml: ") and message in str(error.value)


def test_a_playbook_that_is_not_yaml_names_its_file(tmp_path):
    (tmp_path / "broken.yaml").write_text("title: [unclosed\n")
    with pytest.raises(PlaybookError, match=r"^broken.yaml: not valid YAML"):
        load_playbooks(tmp_path)
