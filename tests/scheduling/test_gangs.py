"""Reading a gang's annotations: bad values are ignored with a note that says why (no database)."""

from __future__ import annotations

import pytest

from backends.kubernetes import PodInfo
from scheduling import gangs

GATE = ("bluedock.io/admission",)


def pod(name: str, cpu: int = 1000, gates=GATE, **annotations: str) -> PodInfo:
    names = {"gang": "bluedock.io/gang", "size": "bluedock.io/gang-size", "min": "bluedock.io/gang-min"}
    return PodInfo(namespace="t2-apps", name=name, uid=name, phase="Pending", node_name="", labels={},
                   annotations={names[k]: v for k, v in annotations.items()}, scheduling_gates=gates,
                   requests={"cpu": cpu}, priority=0, grace_seconds=3, created_at="", deleting=False)


def train(n: int = 4, **annotations: str) -> list[PodInfo]:
    return [pod(f"train-{i}", **{"gang": "train", "size": "4", **annotations}) for i in range(n)]


def test_a_valid_gang_min_makes_the_gang_elastic():
    assert gangs.gang_size(train()) == (4, [])
    assert gangs.gang_min(train(min="2"), 4, gated=True) == (2, [])
    assert gangs.gang_min(train(min=" 3 "), 4, gated=True) == (3, [])


@pytest.mark.parametrize("value", ["4", None])
def test_a_gang_that_cannot_shrink_is_not_elastic_and_that_is_no_error(value):
    pods = train(min=value) if value else train()
    assert gangs.gang_min(pods, 4, gated=True) == (None, [])


@pytest.mark.parametrize(("pods", "note"), [
    (train(min="two"), "bluedock.io/gang-min 'two' ignored: it must be a whole number of pods, at least 1."),
    (train(min="0"), "bluedock.io/gang-min '0' ignored: it must be a whole number of pods, at least 1."),
    (train(min="-1"), "bluedock.io/gang-min '-1' ignored: it must be a whole number of pods, at least 1."),
    (train(min="2.5"), "bluedock.io/gang-min '2.5' ignored: it must be a whole number of pods, at least 1."),
    (train(min="+2"), "bluedock.io/gang-min '+2' ignored: it must be a whole number of pods, at least 1."),
    (train(min="\uff12"), "bluedock.io/gang-min '\uff12' ignored: it must be a whole number of pods, at least 1."),
    (train(min=""), "bluedock.io/gang-min '' ignored: it must be a whole number of pods, at least 1."),
    (train(min="99999999999999999999"), "ignored: it must be a whole number of pods, at least 1."),
    (train(min="5"), "bluedock.io/gang-min '5' ignored: more than the gang's bluedock.io/gang-size 4."),
    ([pod("solo", min="1")], "bluedock.io/gang-min '1' ignored: the pod is not in a gang (no bluedock.io/gang "
                             "annotation)."),
    (train(3, min="2") + [pod("train-9", gang="train", size="4", min="3")],
     "bluedock.io/gang-min ignored: the gang's pods disagree ('2', '3')."),
    (train(3, min="2") + [pod("train-9", gang="train", size="4")],
     "bluedock.io/gang-min ignored: the gang's pods disagree ('2', absent)."),
    (train(3, min="2") + [pod("train-9", cpu=2000, gang="train", size="4", min="2")],
     "bluedock.io/gang-min '2' ignored: the gang's pods do not all ask for the same resources"),
])
def test_a_bad_gang_min_is_ignored_with_a_reason(pods, note):
    minimum, notes = gangs.gang_min(pods, 4, gated=True)
    assert minimum is None and len(notes) == 1 and note in notes[0]


def test_a_gang_the_portal_does_not_gate_cannot_shrink():
    pods = [pod(f"train-{i}", gates=(), gang="train", size="4", min="2") for i in range(4)]
    minimum, (note,) = gangs.gang_min(pods, 4, gated=False)
    assert minimum is None and "do not wait for the bluedock.io/admission gate" in note


@pytest.mark.parametrize(("values", "size", "notes"), [
    (["12"], 12, []),
    ([""], 1, []),
    (["twelve"], 1, ["bluedock.io/gang-size 'twelve' ignored: it must be a whole number of pods, at least 1."]),
    (["0"], 1, ["bluedock.io/gang-size '0' ignored: it must be a whole number of pods, at least 1."]),
    (["8", "12"], 12, []),  # a rolling update changing the size: the larger, as before
    (["8", "x"], 8, ["bluedock.io/gang-size 'x' ignored: it must be a whole number of pods, at least 1."]),
])
def test_gang_size_never_stops_a_pass(values, size, notes):
    pods = [pod(f"train-{i}", gang="train", size=v) for i, v in enumerate(values)]
    assert gangs.gang_size(pods) == (size, notes)


@pytest.mark.parametrize("name", ["train", "Train_1", "a", "t.v-2", "x" * 253])
def test_a_gang_is_named_like_a_pod(name):
    assert gangs.gang_of(pod("p", gang=name)) == (name, [])


def test_no_gang_annotation_or_an_empty_one_is_no_gang():
    assert gangs.gang_of(pod("p")) == (None, [])
    assert gangs.gang_of(pod("p", gang="")) == (None, [])


@pytest.mark.parametrize("name", ["my gang", "-train", "train.", "a/b", "x" * 254, "train\n", "train\nb"])
def test_a_gang_name_the_records_cannot_hold_or_name_is_ignored_with_a_note(name):
    gang, (note,) = gangs.gang_of(pod("p", gang=name))
    shown = name if len(name) <= 63 else f"{name[:60]}…"
    assert gang is None and note == (f"bluedock.io/gang {shown!r} ignored: a gang's name is letters, digits, '_', "
                                     f"'-' and '.', neither first nor last a '-' or '.', at most 253 characters.")
