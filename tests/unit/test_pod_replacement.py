"""Replacement matching: by owner reference, timed from server timestamps, never by order."""

from __future__ import annotations

from drillbook.platforms.pod_replacement import (
    KilledPod,
    PodSnapshot,
    match_replacements,
    remember,
    summarize,
    with_workloads,
)

RS_A = "uid-rs-a"
RS_B = "uid-rs-b"
STS = "uid-sts-postgres"
T0 = 1_800_000_000.0


def pod(
    name: str,
    *,
    uid: str | None = None,
    owner: str | None = RS_A,
    created: float = T0 - 600,
    ready: bool = True,
    ready_since: float | None = None,
    scheduled: float | None = None,
    deleting: bool = False,
    restarts: int = 0,
) -> PodSnapshot:
    return PodSnapshot(
        uid=uid or f"uid-{name}",
        name=name,
        namespace="eleanor-v8",
        owner_uid=owner,
        owner=None if owner is None else f"ReplicaSet/{owner}",
        created_at=created,
        ready=ready,
        ready_since=ready_since if ready_since is not None else created + 2,
        scheduled_at=scheduled if scheduled is not None else created,
        deleting=deleting,
        restart_count=restarts,
    )


def killed(snapshot: PodSnapshot, at: float = T0) -> KilledPod:
    return KilledPod(pod=snapshot, killed_at=at)


def test_several_pods_deleted_at_once_each_get_a_replacement_of_their_own_owner() -> None:
    # Two pods of RS A and one of RS B die in the same second. The replacements appear in an
    # order that pairs them wrongly by position (B's first): matching by owner must not.
    a1, a2, b1 = pod("app-a1"), pod("app-a2"), pod("worker-b1", owner=RS_B)
    other = pod("app-a3")  # a survivor of RS A: never anybody's replacement
    new_b = pod("worker-b9", owner=RS_B, created=T0 + 1, ready_since=T0 + 2, scheduled=T0 + 1)
    new_a = [
        pod("app-a8", created=T0 + 1, ready_since=T0 + 3, scheduled=T0 + 1),
        pod("app-a9", created=T0 + 2, ready_since=T0 + 5, scheduled=T0 + 2),
    ]
    result = match_replacements(
        [killed(a1), killed(a2), killed(b1)],
        [new_b, other, *new_a],
        existed_before=[other.uid],
    )
    by_victim = {r.victim: r for r in result}
    assert by_victim["worker-b1"].replacement == "worker-b9"
    assert {by_victim["app-a1"].replacement, by_victim["app-a2"].replacement} == {
        "app-a8",
        "app-a9",
    }
    assert all(r.kind == "replaced" for r in result)
    # Oldest victim to oldest replacement within the owner; spans from the server's seconds.
    assert by_victim["app-a1"].ready_seconds == 3.0
    assert by_victim["app-a2"].ready_seconds == 5.0
    assert by_victim["worker-b1"].scheduled_seconds == 1.0
    figures = summarize(result)
    assert figures["pods_killed"] == 3
    assert figures["pods_recovered"] == 3
    assert figures["pod_ready_seconds_max"] == 5.0


def test_a_replacement_that_never_becomes_ready_is_pending_with_no_recovery_time() -> None:
    victim = pod("app-a1")
    stuck = pod("app-a7", created=T0 + 1, ready=False, scheduled=T0 + 1)
    (result,) = match_replacements([killed(victim)], [stuck])
    assert result.kind == "pending"
    assert not result.recovered
    assert result.replacement == "app-a7"
    assert result.scheduled_seconds == 1.0
    assert result.ready_seconds is None
    figures = summarize([result])
    assert figures["pods_pending"] == ["app-a1"]
    assert figures["pod_ready_seconds_max"] is None


def test_no_replacement_at_all_is_pending() -> None:
    (result,) = match_replacements([killed(pod("app-a1"))], [])
    assert result.kind == "pending"
    assert result.replacement is None


def test_an_in_place_container_restart_is_the_same_pod_ready_again() -> None:
    before = pod("app-a1", restarts=0)
    after = pod("app-a1", restarts=1, ready_since=T0 + 4)  # same UID: not a new pod
    (result,) = match_replacements([killed(before)], [after])
    assert result.kind == "restarted_in_place"
    assert result.replacement_uid == before.uid
    assert result.ready_seconds == 4.0


def test_an_in_place_restart_not_ready_yet_is_pending() -> None:
    before = pod("app-a1")
    after = pod("app-a1", ready=False, ready_since=T0 + 1, restarts=1)
    (result,) = match_replacements([killed(before)], [after])
    assert result.kind == "pending"


def test_a_pod_of_another_owner_is_never_a_replacement() -> None:
    victim = pod("app-a1", owner=RS_A)
    unrelated = pod("cache-0", owner=STS, created=T0 + 1, ready_since=T0 + 2)
    (result,) = match_replacements([killed(victim)], [unrelated])
    assert result.kind == "pending"
    assert result.replacement is None


def test_a_statefulset_replacement_keeps_the_victims_name() -> None:
    pg0 = pod("postgres-0", owner=STS)
    pg1 = pod("postgres-1", owner=STS)
    # Created in the opposite order of the victims: the name decides, not the order.
    new1 = pod("postgres-1", uid="new-1", owner=STS, created=T0 + 1, ready_since=T0 + 2)
    new0 = pod("postgres-0", uid="new-0", owner=STS, created=T0 + 3, ready_since=T0 + 9)
    result = match_replacements([killed(pg0), killed(pg1)], [new1, new0])
    assert [(r.victim, r.replacement_uid, r.ready_seconds) for r in result] == [
        ("postgres-0", "new-0", 9.0),
        ("postgres-1", "new-1", 2.0),
    ]


def test_a_terminating_pod_is_not_a_replacement_and_a_bare_pod_is_not_owned() -> None:
    victim = pod("app-a1")
    terminating = pod("app-a5", created=T0 + 1, deleting=True)
    bare = pod("debug", owner=None)
    result = match_replacements([killed(victim), killed(bare)], [terminating])
    assert [r.kind for r in result] == ["pending", "not_owned"]


def test_ready_within_the_second_of_the_kill_is_zero_never_negative() -> None:
    victim = pod("app-a1")
    fast = pod("app-a2", created=T0, ready_since=T0 - 0.0, scheduled=T0)
    (result,) = match_replacements([killed(victim, at=T0 + 0.4)], [fast])
    assert result.ready_seconds == 0.0


def test_a_replacement_a_rollout_removed_again_still_counts_from_what_was_seen() -> None:
    # Killed, replaced by the ReplicaSet (Ready after 2 s), then a rollout restart replaced the
    # replacement with a pod of a new ReplicaSet: only the history knows the first replacement.
    victim = pod("app-a1")
    replacement = pod("app-a5", created=T0 + 1, ready_since=T0 + 2)
    rollout = pod("app-b1", owner=RS_B, created=T0 + 3, ready_since=T0 + 4)
    (result,) = match_replacements([killed(victim)], [rollout], seen=[replacement])
    assert (result.kind, result.replacement, result.ready_seconds) == ("replaced", "app-a5", 2.0)


def test_remember_keeps_a_live_snapshot_over_a_later_terminating_one() -> None:
    seen: dict[str, PodSnapshot] = {}
    live = pod("app-a5", ready_since=T0 + 2)
    terminating = pod("app-a5", ready_since=T0 + 2, deleting=True)
    remember(seen, [live])
    remember(seen, [terminating])
    assert seen[live.uid] == live
    only_terminating: dict[str, PodSnapshot] = {}
    remember(only_terminating, [terminating])
    assert only_terminating[live.uid].deleting


def test_a_victim_seen_alive_before_its_kill_is_not_an_in_place_restart() -> None:
    # Seen live by the watcher before it was killed, gone now: it was deleted, not restarted.
    victim = pod("app-a1")
    replacement = pod("app-a6", created=T0 + 1, ready_since=T0 + 3)
    (result,) = match_replacements([killed(victim)], [replacement], seen=[victim])
    assert (result.kind, result.replacement) == ("replaced", "app-a6")


def test_after_a_rollout_restart_the_new_replicasets_pod_replaces_the_victim() -> None:
    # Killed pod of RS A (Deployment D). RS A's replacement was discarded by the rollout restart
    # before it was ever Ready (seen Pending, gone now); RS B, the rollout's, has the pod that
    # serves. Matched through the workload, and the report says by which ReplicaSet.
    deployment = {RS_A: "uid-deploy", RS_B: "uid-deploy"}
    victim, survivor = with_workloads([pod("app-a1"), pod("app-a2")], deployment)
    discarded = pod("app-a7", created=T0 + 1, ready=False)
    new = pod("app-b1", owner=RS_B, created=T0 + 1, ready_since=T0 + 3)
    now = with_workloads([survivor, new], deployment)
    (result,) = match_replacements(
        [killed(victim)],
        now,
        existed_before=[survivor.uid],
        seen=with_workloads([discarded], deployment),
    )
    assert (result.kind, result.replacement, result.ready_seconds) == ("replaced", "app-b1", 3.0)
    assert result.replacement_owner == f"ReplicaSet/{RS_B}"


def test_the_own_replicaset_comes_before_the_workloads_other_replicasets() -> None:
    deployment = {RS_A: "uid-deploy", RS_B: "uid-deploy"}
    (victim,) = with_workloads([pod("app-a1")], deployment)
    mine = pod("app-a8", created=T0 + 2, ready_since=T0 + 4)
    theirs = pod("app-b1", owner=RS_B, created=T0 + 1, ready_since=T0 + 2)
    (result,) = match_replacements([killed(victim)], with_workloads([theirs, mine], deployment))
    assert result.replacement == "app-a8"
