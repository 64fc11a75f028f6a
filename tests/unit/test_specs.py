"""Sweep specs and cluster profiles: loading, validation, expansion into points."""

import json
import re
from pathlib import Path

import click
import pytest

from harness import cli, profiles, specs, workloads
from harness.errors import SpecError
from harness.feasibility import check_spec
from harness.profiles import PROFILE_KEYS, format_time_limit, parse_time_limit
from harness.specs import ANALYSIS_KEYS, SPEC_KEYS, WORKLOAD_KEYS, check_slurm, load_spec

JOBS = Path(__file__).resolve().parents[2] / "jobs"
SHIPPED = ["smoke", "demo", "platform"] + [
    f"{w}-{m}" for w in ("cfd", "fea", "opt", "param") for m in ("strong", "weak")]

BASE = """
name = "t"
cores = [1, 2]
time_limit = "05:00"

[[workload]]
name = "cfd"
size = "tiny"
"""


def write(tmp_path, text, name="spec.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(tmp_path, text):
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message
    return message


# -- time limits -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("10", 10 * 60),
    ("90", 90 * 60),
    ("05:30", 5 * 60 + 30),
    ("01:02:03", 3600 + 2 * 60 + 3),
    ("48:00:00", 48 * 3600),
    ("2-00", 2 * 86400),
    ("1-02:03", 86400 + 2 * 3600 + 3 * 60),
    ("1-02:03:04", 86400 + 2 * 3600 + 3 * 60 + 4),
])
def test_time_limit_forms_of_sbatch(text, seconds):
    assert parse_time_limit(text) == seconds


@pytest.mark.parametrize("text", [
    "", "abc", "0", "00:00", "1:60", "1:2:60", "1:60:00", "1-24", "1-2:3:4:5", "-5", "5m",
    "1:2:3:4", "1.5", "UNLIMITED", 10, 1.5, None,
])
def test_malformed_time_limits_are_refused(text):
    with pytest.raises(SpecError) as info:
        parse_time_limit(text)
    assert "MM" in str(info.value) or "range" in str(info.value) or "zero" in str(info.value)


@pytest.mark.parametrize("seconds", [1, 59, 60, 3599, 3600, 86399, 86400, 93784, 40 * 86400 + 7])
def test_formatted_time_limit_parses_back(seconds):
    text = format_time_limit(seconds)
    assert re.match(r"^(\d+-)?\d{2}:\d{2}:\d{2}$", text)
    assert parse_time_limit(text) == seconds


# -- a valid spec and its points ---------------------------------------------------------------


def test_points_are_the_product_of_configurations_and_cores(tmp_path):
    spec = load_spec(write(tmp_path, """
name = "grid"
baseline_cores = 2
scales = [1, 2, 4]
runs = 3
reps = 2
warmup = 0
time_limit = "1-00:00:30"

[[workload]]
name = "cfd"
variants = ["blocking", "overlap"]
modes = ["strong", "weak"]
size = "tiny"
params = { steps = 7 }
"""))
    cfd = workloads.get("cfd")
    assert spec.cores == (2, 4, 8) and spec.baseline_cores == 2
    assert len(spec.points) == 2 * 2 * 3
    assert spec.time_limit == 86430
    assert [p.ranks for p in spec.points] == sorted(p.ranks for p in spec.points)
    for p in spec.points:
        assert (p.runs, p.reps, p.warmup, p.time_limit) == (3, 2, 0, 86430)
        assert p.params == {"steps": 7}
        # the points carry what the workload itself resolves for that case and rank count
        assert (p.resolved, p.variant) == cfd.resolve("tiny", {"steps": 7}, p.mode, p.ranks,
                                                      p.variant)
    weak = [p for p in spec.points if p.mode == "weak"]
    strong = [p for p in spec.points if p.mode == "strong"]
    assert len({p.resolved["n"] for p in weak}) == 3  # weak: the problem grows with the ranks
    assert len({p.resolved["n"] for p in strong}) == 1
    keys = [p.key for p in spec.points]
    assert len(set(keys)) == len(keys)
    assert all(re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", k) for k in keys)
    assert [p.key for p in load_spec(tmp_path / "spec.toml").points] == keys  # stable
    assert spec.points_at(4) == [p for p in spec.points if p.ranks == 4]


# -- runs per point: `runs`, and its old name `repetitions` --------------------------------------


def test_runs_per_point_under_the_old_key_load_the_same_with_one_warning(tmp_path, capsys):
    new = load_spec(write(tmp_path, "runs = 4\n" + BASE, "new.toml"))
    assert capsys.readouterr().err == ""  # the new key: no warning
    old = load_spec(write(tmp_path, "repetitions = 4\n" + BASE, "old.toml"))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("harness: warning: ")
    assert "old.toml" in err and "repetitions is deprecated" in err and "runs = 4" in err
    assert old.runs == new.runs == 4 and [p.runs for p in old.points] == [4, 4]
    assert [p.to_dict() for p in old.points] == [p.to_dict() for p in new.points]
    # sweep.json keeps its key for the runs per point (harness.sweep/1)
    assert old.points[0].to_dict()["repetitions"] == 4


def test_bad_runs_under_the_old_key_is_one_error_line_and_no_warning(tmp_path, capsys):
    message = error_of(tmp_path, "repetitions = 0\n" + BASE)
    assert "repetitions" in message and capsys.readouterr().err == ""
    message = error_of(tmp_path, "repetitions = 2\n" + BASE.replace("cores = [1, 2]", "cores = 7"))
    assert "cores" in message and capsys.readouterr().err == ""  # another error: no warning


def test_runs_and_its_old_name_together_are_refused(tmp_path):
    message = error_of(tmp_path, "runs = 2\nrepetitions = 2\n" + BASE)
    assert "both runs and repetitions" in message and "spec.toml" in message


def test_defaults_and_explicit_cores(tmp_path):
    spec = load_spec(write(tmp_path, BASE))
    assert spec.cores == (1, 2) and spec.baseline_cores == 1 and spec.runs == 1
    assert [p.variant for p in spec.points] == [workloads.get("cfd").variants[0]] * 2
    assert {p.mode for p in spec.points} == {"strong"}
    assert spec.profile.launcher == "srun" and spec.profile.partition is None


def test_profile_from_a_file_relative_to_the_spec(tmp_path):
    (tmp_path / "profiles").mkdir()
    write(tmp_path, 'partition = "batch"\ncores_per_node = 8\nlauncher = "mpiexec"\n',
          "profiles/site.toml")
    spec = load_spec(write(tmp_path, 'profile = "profiles/site.toml"\n' + BASE))
    assert (spec.profile.partition, spec.profile.cores_per_node,
            spec.profile.launcher) == ("batch", 8, "mpiexec")
    write(tmp_path, 'partition = "batch"\nnodes = 3\n', "profiles/site.toml")
    message = error_of(tmp_path, 'profile = "profiles/site.toml"\n' + BASE)
    assert "'nodes'" in message and "site.toml" in message


def test_nodes_from_cores_per_node(tmp_path):
    spec = load_spec(write(tmp_path, BASE + '[profile]\npartition = "p"\ncores_per_node = 4\n'))
    assert [spec.profile.nodes_for(c) for c in (1, 4, 5, 8, 9)] == [1, 1, 2, 2, 3]


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("extra", "key", "where"), [
    ("colour = 1\n", "colour", "the spec"),
    ("[profile]\npartition = 'p'\nnode_count = 1\n", "node_count", "[profile]"),
    ("[analysis]\nemail = 'x'\n", "email", "[analysis]"),
])
def test_unknown_keys_name_the_key_and_the_file(tmp_path, extra, key, where):
    text = BASE.replace('name = "t"\n', 'name = "t"\n' + extra) if "[" not in extra \
        else BASE + extra
    message = error_of(tmp_path, text)
    assert repr(key) in message and where in message and str(tmp_path / "spec.toml") in message


def test_unknown_key_in_a_workload_table(tmp_path):
    message = error_of(tmp_path, BASE + "repeat = 2\n")
    assert "'repeat'" in message and "[[workload]] #1" in message and "spec.toml" in message


@pytest.mark.parametrize(("cores_line", "fragment"), [
    ("baseline_cores = 5\nscales = [0, 10]", "scale 0"),
    ("baseline_cores = 5\nscales = [-1]", "scale -1"),
    ("baseline_cores = 5\nscales = [0.3]", "whole number"),
    ("baseline_cores = 0\nscales = [1]", "baseline_cores"),
    ("scales = [1, 2]", "baseline_cores"),
    ("cores = [0, 2]", "positive"),
    ("cores = [2, 2]", "repeat"),
    ("cores = []", "non-empty"),
    ("cores = [1]\nscales = [1]", "both scales and cores"),
    ("runs = 0\ncores = [1]", "runs"),
])
def test_bad_core_counts(tmp_path, cores_line, fragment):
    text = BASE.replace("cores = [1, 2]", cores_line)
    assert fragment in error_of(tmp_path, text)


def test_half_scales_that_give_whole_cores_are_fine(tmp_path):
    spec = load_spec(write(tmp_path, BASE.replace("cores = [1, 2]",
                                                  "baseline_cores = 4\nscales = [0.5, 1]")))
    assert spec.cores == (2, 4)


def test_cores_must_fill_whole_nodes_when_the_profile_says_so(tmp_path):
    profile = '[profile]\npartition = "p"\ncores_per_node = 4\nfull_nodes = true\n'
    ok = BASE.replace("cores = [1, 2]", "cores = [2, 4, 8, 12]") + profile
    assert load_spec(write(tmp_path, ok)).cores == (2, 4, 8, 12)
    message = error_of(tmp_path, BASE.replace("cores = [1, 2]", "cores = [4, 6]") + profile)
    assert "6 cores" in message and "4 cores" in message and "full_nodes" in message


@pytest.mark.parametrize("limit", ["1:60", "abc", "0", "1-25:00"])
def test_malformed_time_limit_in_a_spec(tmp_path, limit):
    message = error_of(tmp_path, BASE.replace('"05:00"', f'"{limit}"'))
    assert "time_limit" in message and "spec.toml" in message


@pytest.mark.parametrize(("key", "value"), [
    ("partition", "batch;touch PWNED"),
    ("partition", "$(touch PWNED)"),
    ("partition", "`touch PWNED`"),
    ("partition", "batch\\ntouch PWNED"),
    ("partition", "two words"),
    ("account", "acct;id"),
    ("qos", "q$(id)"),
    ("constraint", "ib;touch PWNED"),
    ("launcher", "bash"),
    ("python", "python3"),
    ("python", "/usr/bin/python3;id"),
    ("mpi", "pmi2 --foo"),
])
def test_identifiers_that_reach_scripts_are_strict(tmp_path, key, value):
    text = BASE + f'[profile]\n{key} = "{value}"\n'
    message = error_of(tmp_path, text)
    assert key in message


def test_accepted_identifiers(tmp_path):
    spec = load_spec(write(tmp_path, BASE + """[profile]
partition = "gpu,batch"
account = "proj_01.x"
qos = "normal"
constraint = "ib&haswell|skylake"
sbatch_options = ["--mem=0", "--gres=gpu:1"]
preamble = ["module load a/1 b/2; echo $HOME"]
"""))
    assert spec.profile.partition == "gpu,batch"
    assert spec.profile.preamble == ("module load a/1 b/2; echo $HOME",)  # site shell, verbatim


@pytest.mark.parametrize("option", ["--mem 0", "--wrap=id;x", "-N1", "--x=$(id)"])
def test_sbatch_options_are_plain_long_options(tmp_path, option):
    text = BASE + f'[profile]\nsbatch_options = ["{option}"]\n'
    assert "sbatch_options" in error_of(tmp_path, text)


def test_preamble_entries_are_single_lines(tmp_path):
    assert "one line" in error_of(tmp_path, BASE + '[profile]\npreamble = ["a\\nb"]\n')
    text = BASE + "[profile]\npreamble = '''\nmodule purge\nulimit -s unlimited\n'''\n"
    spec = load_spec(write(tmp_path, text))
    assert spec.profile.preamble == ("module purge", "ulimit -s unlimited")


@pytest.mark.parametrize("name", ["a;b", "$(id)", "a b", "-x", "x" * 65, "a\\nb"])
def test_spec_names_become_job_names_and_are_strict(tmp_path, name):
    assert "spec name" in error_of(tmp_path, BASE.replace('name = "t"', f'name = "{name}"'))


@pytest.mark.parametrize(("params", "fragment"), [
    ('{ n = "64; touch PWNED" }', "n="),
    ("{ colour = 1 }", "unknown parameter 'colour'"),
    ('{ "a;b" = 1 }', "parameter name"),
    ("{ n = true }", "number or a string"),
    ("{ steps = 0 }", "steps"),
])
def test_params_are_checked_by_the_workload(tmp_path, params, fragment):
    message = error_of(tmp_path, BASE + f"params = {params}\n")
    assert fragment in message and "spec.toml" in message


def test_a_configuration_the_workload_refuses_at_one_core_count_names_it(tmp_path):
    text = BASE.replace("cores = [1, 2]", "cores = [1, 2500]") + "params = { n = 8 }\n"
    message = error_of(tmp_path, text)
    assert "2500 cores" in message and "n=8" in message


@pytest.mark.parametrize(("entry", "fragment"), [
    ('name = "nbody"', "not a workload"),
    ('name = "cfd"\nvariant = "fast"', "unknown variant 'fast'"),
    ('name = "cfd"\nmode = "sideways"', "unknown mode"),
    ('name = "cfd"\nsize = "huge"', "unknown size"),
    ('name = "cfd"\nvariant = "blocking"\nvariants = ["overlap"]', "both variant and variants"),
])
def test_bad_workload_tables(tmp_path, entry, fragment):
    text = 'name = "t"\ncores = [1]\n[[workload]]\n' + entry + "\n"
    assert fragment in error_of(tmp_path, text)


def test_missing_workloads_and_duplicate_points(tmp_path):
    assert "[[workload]]" in error_of(tmp_path, 'name = "t"\ncores = [1]\n')
    assert "same point" in error_of(tmp_path, BASE + '[[workload]]\nname = "cfd"\n')


def test_not_toml_and_missing_file(tmp_path):
    assert "not valid TOML" in error_of(tmp_path, "name = = 1\n")
    with pytest.raises(SpecError, match="no such spec file"):
        load_spec(tmp_path / "absent.toml")


def test_slurm_mode_needs_partition_and_cores_per_node(tmp_path):
    spec = load_spec(write(tmp_path, BASE))
    with pytest.raises(SpecError, match="needs partition"):
        check_slurm(spec)
    spec = load_spec(write(tmp_path, BASE + '[profile]\npartition = "p"\n'))
    with pytest.raises(SpecError, match="needs cores_per_node"):
        check_slurm(spec)
    check_slurm(load_spec(write(tmp_path, BASE + '[profile]\npartition = "p"\n'
                                                 "cores_per_node = 2\n")))


# -- the specs shipped in jobs/ ----------------------------------------------------------------


def _load_shipped(name):
    try:
        return load_spec(JOBS / f"{name}.toml")
    except SpecError as e:
        if "is not available here" in str(e):
            pytest.skip(f"jobs/{name}.toml needs a workload not installed yet: {e}")
        raise


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_specs_load(name):
    spec = _load_shipped(name)
    assert spec.name == name and spec.points
    if name in ("smoke", "demo"):
        size = {"smoke": "tiny", "demo": "small"}[name]
        assert spec.cores == (1, 2) and {p.size for p in spec.points} == {size}
    else:
        # the platform's scales, every workload to 500x, every point feasible on its profile
        assert spec.baseline_cores == 5
        assert spec.cores == (5, 50, 250, 500, 2500)
        assert check_spec(spec, "slurm")
        check_slurm(spec)
    if "-" in name:
        workload, mode = name.split("-")
        assert {p.workload for p in spec.points} == {workload}
        assert {p.mode for p in spec.points} == {mode}
        assert {p.variant for p in spec.points} == set(workloads.get(workload).variants)


def test_demo_covers_every_workload_and_variant():
    spec = _load_shipped("demo")
    for name in workloads.names():
        wl = workloads.get(name)
        assert {p.variant for p in spec.points if p.workload == name} == set(wl.variants)


def test_a_workload_table_may_narrow_the_scales(tmp_path):
    spec = load_spec(write(tmp_path, """
name = "t"
baseline_cores = 2
scales = [1, 2, 4]

[[workload]]
name = "cfd"
variant = "blocking"

[[workload]]
name = "cfd"
variant = "overlap"
scales = [1, 2]

[[workload]]
name = "cfd"
variant = "blocking"
size = "small"
cores = [16]
"""))
    assert spec.cores == (2, 4, 8, 16)
    assert sorted((p.variant, p.size, p.ranks) for p in spec.points) == sorted(
        [("blocking", "tiny", r) for r in (2, 4, 8)] + [("overlap", "tiny", r) for r in (2, 4)]
        + [("blocking", "small", 16)])
    text = BASE + '[[workload]]\nname = "cfd"\nvariant = "overlap"\nscales = [0]\n'
    assert "[[workload]] #2 scale 0" in error_of(tmp_path, text)


# -- [analysis] switches run commands the command line registers ------------------------------


@pytest.mark.parametrize(("key", "command", "runs"), [
    ("report", "report", "harness report"), ("kpi_push", "kpi", "harness kpi push")])
def test_analysis_switches_run_registered_commands(tmp_path, key, command, runs):
    assert specs.ANALYSIS_COMMANDS[key] == (command, runs)
    # every word of what the analysis job runs resolves to a command of the click group
    group, ctx = cli.cli, click.Context(cli.cli)
    assert command in cli.COMMANDS
    for word in runs.split()[1:]:
        group = group.get_command(ctx, word)
        assert group is not None, f"`{runs}`: no command {word!r}"
    text = BASE + f"[analysis]\n{key} = true\n"
    assert getattr(load_spec(write(tmp_path, text)).analysis, key) is True
    off = load_spec(write(tmp_path, BASE + f"[analysis]\n{key} = false\n")).analysis
    assert getattr(off, key) is False


# -- every value is type-checked ----------------------------------------------------------------

# TOML values of every shape: a value of the wrong shape for a key must be a SpecError
SHAPES = ['["tiny"]', '["a", "b"]', "[]", "[[1]]", "[{ a = 1 }]", "{ a = 1 }", "{}", "true", "3",
          "-1", "2.5", "1979-05-27T07:32:00Z", "07:32:00", '"x"', '""']
VALID = {"name": '"cfd"', "size": '"tiny"'}


def spec_with(table, key, value):
    """BASE-like spec text with ``key = value`` in ``table`` (top, workload, profile, analysis)."""
    top = {"name": '"t"', "cores": "[1, 2]", "time_limit": '"05:00"'}
    sections = {"top": top, "profile": {}, "analysis": {}, "workload": dict(VALID)}
    if table == "top" and key in ("scales", "baseline_cores"):
        top.pop("cores")
        top.update(scales="[1, 2]", baseline_cores="1")
    sections[table][key] = value
    text = "".join(f"{k} = {v}\n" for k, v in sections["top"].items())
    for name, header in (("profile", "[profile]"), ("analysis", "[analysis]"),
                         ("workload", "[[workload]]")):
        if table == "top" and key == name:  # the key replaces its table
            continue
        text += header + "\n" + "".join(f"{k} = {v}\n" for k, v in sections[name].items())
    return text


ALL_KEYS = ([("top", k) for k in sorted(SPEC_KEYS)]
            + [("workload", k) for k in sorted(WORKLOAD_KEYS)]
            + [("profile", k) for k in sorted(PROFILE_KEYS)]
            + [("analysis", k) for k in sorted(ANALYSIS_KEYS)])


@pytest.mark.parametrize(("table", "key"), ALL_KEYS)
def test_a_value_of_any_shape_loads_or_is_a_one_line_spec_error(tmp_path, table, key):
    """No TOML value, whatever its type, gets past load_spec as anything but a SpecError that
    names the file and the key."""
    for value in SHAPES:
        path = write(tmp_path, spec_with(table, key, value))
        try:
            load_spec(path)
        except SpecError as e:
            message = str(e)
            assert "\n" not in message and str(path) in message, message
            assert key.rstrip("s") in message, (key, value, message)


@pytest.mark.parametrize(("table", "key", "value"), [
    ("workload", "size", '["tiny"]'),
    ("workload", "size", "{ name = 'tiny' }"),
    ("workload", "size", "1"),
    ("workload", "name", '["cfd"]'),
    ("workload", "mode", '[["strong"]]'),
    ("workload", "variants", "[1]"),
    ("workload", "params", "{ steps = [10] }"),
    ("workload", "params", "{ steps = { n = 1 } }"),
    ("profile", "launcher", '["srun"]'),
    ("profile", "partition", '["batch"]'),
    ("profile", "preamble", "[1]"),
    ("top", "profile", '""'),
    ("top", "profile", '"nowhere.toml"'),
])
def test_values_of_the_wrong_type(tmp_path, table, key, value):
    message = error_of(tmp_path, spec_with(table, key, value))
    assert key.rstrip("s") in message and str(tmp_path / "spec.toml") in message


# -- identifiers: a trailing newline is not part of any allowed form ---------------------------


@pytest.mark.parametrize(("table", "key", "good"), [
    ("top", "name", "t"),                                     # NAME_RE
    ("profile", "name", "site"),                              # NAME_RE
    ("profile", "partition", "batch,gpu"),                    # PARTITION_RE
    ("profile", "account", "proj_1"),                         # SLURM_NAME_RE
    ("profile", "qos", "normal"),                             # SLURM_NAME_RE
    ("profile", "mpi", "pmi2"),                               # SLURM_NAME_RE
    ("profile", "constraint", "ib&skylake"),                  # CONSTRAINT_RE
    ("profile", "python", "/usr/bin/python3"),                # PATH_RE
    ("profile", "numba_cache_dir", "/scratch/numba"),         # PATH_RE
    ("profile", "sbatch_options", ["--mem=0"]),               # SBATCH_OPTION_RE
    ("analysis", "store", "sqlite:///results/kpi.sqlite"),    # STORE_RE
    ("params", "steps", 3),                                   # PARAM_KEY_RE (a key)
])
def test_identifiers_with_a_trailing_newline_are_refused(tmp_path, table, key, good):
    def toml(value):
        if isinstance(value, list):
            return "[" + ", ".join(toml(v) for v in value) + "]"
        return json.dumps(value)

    def text(value, newline):
        if table == "params":  # the newline goes into the parameter's name
            name = json.dumps(key + ("\n" if newline else ""))
            return spec_with("workload", "params", f"{{ {name} = {value} }}")
        if newline:
            value = [v + "\n" for v in value] if isinstance(value, list) else value + "\n"
        return spec_with(table, key, toml(value))

    load_spec(write(tmp_path, text(good, newline=False)))  # the value itself is fine
    message = error_of(tmp_path, text(good, newline=True))
    # refused by the identifier's own pattern, not by whatever reads the value later
    assert ("parameter name" if table == "params" else "not allowed") in message
    assert key.rstrip("s") in message


@pytest.mark.parametrize(("module", "name", "good"), [
    (profiles, "NAME_RE", "t-1.x"), (profiles, "SLURM_NAME_RE", "_acct"),
    (profiles, "PARTITION_RE", "a,b"), (profiles, "CONSTRAINT_RE", "a&b|c"),
    (profiles, "SBATCH_OPTION_RE", "--gres=gpu:1"), (profiles, "PATH_RE", "/opt/venv/bin/python"),
    (specs, "STORE_RE", "postgresql://kpi@db.example.org/kpi"), (specs, "PARAM_KEY_RE", "steps"),
], ids=lambda x: x if isinstance(x, str) and x.endswith("_RE") else "")
def test_patterns_are_anchored_at_the_very_end(module, name, good):
    pattern = getattr(module, name)
    assert pattern.fullmatch(good)
    for bad in (good + "\n", good + "\nx", "\n" + good):
        assert not pattern.fullmatch(bad) and not pattern.match(bad), repr(bad)
