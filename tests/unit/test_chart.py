"""The timeline SVG: well-formed, one mark per sample, markers for the key events."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from drillbook.core.redaction import PLACEHOLDER, Redactor
from drillbook.core.timeline import Event, EventKind, Sample, SampleStatus
from drillbook.reporting.chart import EMPTY_MESSAGE, STATUS_COLOURS, render_timeline_svg

SVG = "{http://www.w3.org/2000/svg}"
ORIGIN = 1000.0


def sample(probe: str, t: float, status: SampleStatus, detail: str = "") -> Sample:
    return Sample(probe, ORIGIN + t, ORIGIN + t + 0.02, status, None, detail)


def event(t: float, kind: EventKind, name: str = "") -> Event:
    return Event(ORIGIN + t, 1.7e9 + t, kind, name or str(kind))


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def samples_in(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == "sample"]


def event_lines(root: ET.Element) -> dict[str, ET.Element]:
    return {
        str(line.get("data-event")): line
        for line in root.iter(f"{SVG}line")
        if line.get("class") == "event"
    }


def all_text(root: ET.Element) -> str:
    return " ".join("".join(node.itertext()) for node in root.iter(f"{SVG}text"))


@pytest.fixture
def drill() -> tuple[list[Sample], list[Event]]:
    statuses = [SampleStatus.OK] * 4 + [SampleStatus.ERROR] * 3 + [SampleStatus.DOWN] * 2
    statuses += [SampleStatus.THROTTLED] + [SampleStatus.OK] * 3
    samples = [sample("http", 0.5 * i, status) for i, status in enumerate(statuses)]
    samples += [sample("db-write", 0.5 * i + 0.1, SampleStatus.OK) for i in range(5)]
    events = [
        event(0.0, EventKind.DRILL_STARTED),
        event(1.9, EventKind.FAULT_INJECTED, "stop app"),
        event(2.1, EventKind.DETECTED),
        event(2.3, EventKind.RECOVERY_STARTED),
        event(4.0, EventKind.RECOVERY_FINISHED),
        event(5.1, EventKind.RECOVERED),
        event(5.5, EventKind.NOTE, "not drawn"),
    ]
    return samples, events


def test_output_is_well_formed_svg_with_title(drill: tuple[list[Sample], list[Event]]) -> None:
    root = parse(render_timeline_svg(*drill, origin=ORIGIN, title="app failure"))
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == "app failure"
    assert root.get("width") == "960"
    assert "app failure" in all_text(root)


def test_one_mark_per_sample_coloured_by_status(
    drill: tuple[list[Sample], list[Event]],
) -> None:
    samples, events = drill
    root = parse(render_timeline_svg(samples, events, origin=ORIGIN, title="t"))
    marks = samples_in(root)
    assert len(marks) == len(samples)
    for mark in marks:
        status = SampleStatus(mark.get("data-status", ""))
        assert mark.get("fill") == STATUS_COLOURS[status]
    assert {m.get("fill") for m in marks} == set(STATUS_COLOURS.values())
    assert STATUS_COLOURS[SampleStatus.OK] != STATUS_COLOURS[SampleStatus.DOWN]
    assert STATUS_COLOURS[SampleStatus.ERROR] != STATUS_COLOURS[SampleStatus.DOWN]


def test_probes_get_their_own_rows(drill: tuple[list[Sample], list[Event]]) -> None:
    root = parse(render_timeline_svg(*drill, origin=ORIGIN, title="t"))
    probes = [t for t in root.iter(f"{SVG}text") if t.get("class") == "probe"]
    assert [t.text for t in probes] == ["http", "db-write"]
    y_by_probe: dict[str, set[str | None]] = {"http": set(), "db-write": set()}
    for mark in samples_in(root):
        title = mark.find(f"{SVG}title")
        assert title is not None and title.text is not None
        y_by_probe[title.text.split(" ")[0]].add(mark.get("y"))
    assert len(y_by_probe["http"]) == 1 and len(y_by_probe["db-write"]) == 1
    assert y_by_probe["http"] != y_by_probe["db-write"]


def test_markers_for_fault_detection_runbook_and_recovery(
    drill: tuple[list[Sample], list[Event]],
) -> None:
    root = parse(render_timeline_svg(*drill, origin=ORIGIN, title="t"))
    lines = event_lines(root)
    assert set(lines) == {"fault", "detected", "runbook start", "runbook end", "recovered"}
    fault = lines["fault"]
    assert fault.get("data-kind") == "fault_injected"
    assert fault.get("x1") == fault.get("x2")  # vertical
    # Markers sit at their times: fault (1.9 s) left of recovered (5.1 s).
    assert float(fault.get("x1", "0")) < float(lines["recovered"].get("x1", "0"))
    labels = all_text(root)
    assert "fault 1.90 s" in labels and "recovered 5.10 s" in labels
    assert "not drawn" not in labels


def test_axis_has_second_ticks(drill: tuple[list[Sample], list[Event]]) -> None:
    root = parse(render_timeline_svg(*drill, origin=ORIGIN, title="t"))
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "tick-label"]
    assert ticks[:3] == ["0", "1", "2"] and ticks[-1] == "7"  # 0 to 6.52 s in 1 s steps
    assert "seconds since the drill start" in all_text(root)


def test_sample_x_positions_follow_time(drill: tuple[list[Sample], list[Event]]) -> None:
    samples, events = drill
    root = parse(render_timeline_svg(samples[:9], events, origin=ORIGIN, title="t"))
    xs = [float(m.get("x", "nan")) for m in samples_in(root)]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)


def test_legend_names_every_status_and_marker(
    drill: tuple[list[Sample], list[Event]],
) -> None:
    text = all_text(parse(render_timeline_svg(*drill, origin=ORIGIN, title="t")))
    for word in ("ok", "down", "error", "throttled", "fault", "detected", "runbook", "recovered"):
        assert word in text


def test_empty_input_draws_axes_and_message() -> None:
    root = parse(render_timeline_svg([], [], origin=ORIGIN, title="nothing"))
    assert samples_in(root) == []
    assert EMPTY_MESSAGE in all_text(root)
    assert [line for line in root.iter(f"{SVG}line") if line.get("class") == "axis"]
    assert [t for t in root.iter(f"{SVG}text") if t.get("class") == "tick-label"]


def test_events_without_samples_still_drawn() -> None:
    root = parse(
        render_timeline_svg([], [event(3.0, EventKind.FAULT_INJECTED)], origin=ORIGIN, title="t")
    )
    assert "fault" in event_lines(root)
    assert EMPTY_MESSAGE in all_text(root)


def test_text_is_escaped() -> None:
    nasty = "<script>alert('x')</script> & \"q\" \x07"
    svg = render_timeline_svg(
        [sample(nasty, 0.0, SampleStatus.DOWN, detail="</title><b>")],
        [event(0.5, EventKind.FAULT_INJECTED, "a<b")],
        origin=ORIGIN,
        title=nasty,
    )
    root = parse(svg)  # a single unescaped "<" or control character would make this raise
    assert "<script>" not in svg
    assert root.find(f"{SVG}script") is None
    assert "<script>alert('x')</script>" in all_text(root)


def test_secrets_are_redacted() -> None:
    redactor = Redactor()
    redactor.add("hunter22")
    svg = render_timeline_svg(
        [sample("db", 0.0, SampleStatus.ERROR, detail="auth failed for hunter22")],
        [],
        origin=ORIGIN,
        title="password hunter22",
        redactor=redactor,
    )
    assert "hunter22" not in svg
    assert PLACEHOLDER in svg


def test_long_probe_names_are_shortened_with_full_name_in_tooltip() -> None:
    name = "probe-" + "x" * 80
    root = parse(render_timeline_svg([sample(name, 0, SampleStatus.OK)], [], origin=0, title="t"))
    label = next(t for t in root.iter(f"{SVG}text") if t.get("class") == "probe")
    assert label.text is not None and label.text.endswith("\u2026") and len(label.text) < 40
    tooltip = label.find(f"{SVG}title")
    assert tooltip is not None and tooltip.text == name


def test_too_narrow_width_is_rejected() -> None:
    with pytest.raises(ValueError, match="width"):
        render_timeline_svg([], [], origin=0, title="t", width=100)


def test_samples_before_origin_and_non_finite_times() -> None:
    samples = [
        sample("http", -2.0, SampleStatus.OK),
        Sample("http", float("nan"), float("nan"), SampleStatus.OK),
    ]
    root = parse(render_timeline_svg(samples, [], origin=ORIGIN, title="t"))
    assert len(samples_in(root)) == 1  # the NaN sample cannot be placed, and is not
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "tick-label"]
    assert ticks[0] is not None and ticks[0].startswith("-")
