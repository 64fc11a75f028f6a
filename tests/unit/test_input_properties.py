"""Property tests (hypothesis): any spec, CSV or ``--set`` input gives a result or a one-line
bad-input error (exit 2), never another exception (which the CLI would show as a traceback)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import workloads
from harness.cli.run import parse_settings
from harness.errors import BadInputError
from harness.specs import SPEC_KEYS, WORKLOAD_KEYS, load_spec
from harness.timingcsv import read_csv

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# TOML literals a user might write, well-formed and hostile
SCALARS = st.sampled_from([
    "1", "0", "-1", "2", "5", "1000000000", "99999999999999999999", "1.5", "inf", "-inf", "nan",
    "1e308", "true", '"tiny"', '"small"', '"cfd"', '"fea"', '"strong"', '"weak"', '"05:00"',
    '"99999999999999999999"', '"1-00:00:00"', '""', '"a b"', '"$(reboot)"', '"x\\n"', "[]",
    "[1, 2]", "[1, inf]", "[0.5, 1]", '["blocking", "overlap"]', "{}", "{n = 16}",
    "{steps = -3}", '{nu = "x"}', "{n = 1e300}",
])
KEYS = st.sampled_from([*sorted(SPEC_KEYS - {"workload", "analysis", "profile"}), "bogus"])
WKEYS = st.sampled_from([*sorted(WORKLOAD_KEYS), "bogus"])
PKEYS = st.sampled_from(["name", "partition", "cores_per_node", "launcher", "mpi",
                         "array_throttle", "full_nodes", "bogus"])


@st.composite
def spec_texts(draw: st.DrawFn) -> str:
    lines = [f"{draw(KEYS)} = {draw(SCALARS)}" for _ in range(draw(st.integers(0, 6)))]
    if draw(st.booleans()):
        lines.append("[profile]")
        lines += [f"{draw(PKEYS)} = {draw(SCALARS)}" for _ in range(draw(st.integers(0, 4)))]
    for _ in range(draw(st.integers(0, 3))):
        lines.append("[[workload]]")
        lines += [f"{draw(WKEYS)} = {draw(SCALARS)}" for _ in range(draw(st.integers(0, 4)))]
    return "\n".join(lines) + "\n"


def _load(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.toml"
        path.write_bytes(raw)
        try:
            spec = load_spec(path)
        except BadInputError as e:
            assert "\n" not in str(e).strip(), str(e)
            return
        assert spec.points and all(p.ranks >= 1 for p in spec.points)


@SETTINGS
@given(spec_texts())
def test_spec_loader_gives_a_spec_or_one_line(text: str) -> None:
    _load(text.encode("utf-8"))


@SETTINGS
@given(st.binary(max_size=300))
def test_spec_loader_on_any_bytes(raw: bytes) -> None:
    _load(raw)


CSV_CELLS = st.sampled_from(["cfd", "strong", "weak", "1", "2", "0", "-1", "1.5", "nan", "inf",
                             "", " ", "=cmd|calc", '"a,b"', "1e400", "9007199254740993", "x;y",
                             "\u00e9", "phase_halo"])


@st.composite
def csv_texts(draw: st.DrawFn) -> str:
    header = draw(st.sampled_from([
        "workload,mode,cores,seconds", "workload,mode,cores,seconds,phase_halo",
        "workload,mode,variant,size,cores,seconds", "workload;mode;cores;seconds", "a,b",
        "workload,mode,cores,seconds,seconds",
    ]))
    width = header.count(",") + 1
    rows = [",".join(draw(CSV_CELLS) for _ in range(draw(st.integers(width - 1, width + 1))))
            for _ in range(draw(st.integers(0, 6)))]
    return "\n".join([header, *rows]) + draw(st.sampled_from(["", "\n", "\r\n"]))


def _read(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        path.write_bytes(raw)
        try:
            frame = read_csv(path)
        except BadInputError as e:
            assert "\n" not in str(e).strip(), str(e)
            return
        assert len(frame) >= 1
        assert (frame["cores"] >= 1).all() and (frame["seconds"] > 0).all()


@SETTINGS
@given(csv_texts())
def test_csv_reader_gives_rows_or_one_line(text: str) -> None:
    _read(text.encode("utf-8"))


@SETTINGS
@given(st.binary(max_size=300))
def test_csv_reader_on_any_bytes(raw: bytes) -> None:
    _read(raw)


SET_ITEMS = st.one_of(
    st.text(max_size=30),
    st.builds(lambda k, v: f"{k}={v}",
              st.sampled_from(["n", "steps", "nu", "u", "v", "kx", "ky", "safety", "cases",
                               "tol", "d", "population", "spread", "chunk", "bogus", " n ", ""]),
              st.one_of(st.sampled_from(["1", "0", "-1", "1e308", "nan", "inf", "1.5", "",
                                         "99999999999999999999", "0x10", " 7 ", "\u0663"]),
                        st.text(max_size=12))),
)


@SETTINGS
@given(st.sampled_from(workloads.names()), st.lists(SET_ITEMS, max_size=4),
       st.sampled_from(["strong", "weak"]), st.integers(1, 8))
def test_set_parsing_gives_parameters_or_one_line(workload: str, items: list[str], mode: str,
                                                   ranks: int) -> None:
    try:
        overrides = parse_settings(tuple(items))
        params, _ = workloads.get(workload).resolve("tiny", overrides, mode, ranks)
    except BadInputError as e:
        assert "\n" not in str(e).strip(), str(e)
        return
    for value in params.values():
        if isinstance(value, float):
            assert value == value and abs(value) != float("inf")
