"""Every example block of the W&B reference pages (``shared/seeds/``), run as a script with
one import changed: ``import tracker as wandb`` (issue 13).

Each block runs in its own interpreter against the test's real store and sidecar. Names a
block uses without defining (``run``, ``api``, ``current_step``, the PR curve's data) are
defined before it as a W&B user would; the pages' placeholder paths (``/local/directory``,
``/User/...``) become real folders of the test. Where the page says what comes out, an
epilogue checks it (in the script, then through ``tracker.Api``).

Blocks that wait for an open issue are strict xfails naming that issue (none today): they
fail today and turn into failures of this module as soon as they pass, so whoever
lands that issue removes the mark.
"""

from __future__ import annotations

import os
import re
import textwrap

import pytest
import tracker
from seed_examples import Example, as_script, examples

WAITS: dict[str, str] = {}
# The pages' "wrong usage" examples: W&B raises (ValueError or AssertionError). The script
# prints the raised exception's classes (its MRO), so that an exception of tracker's own
# class that is also a ValueError counts, as it does for a W&B user's ``except ValueError``.
MUST_RAISE = {"seed002-L328", "seed002-L336", "seed002-L688", "seed002-L958"}
RAISED = textwrap.dedent(
    """
    import sys as _sys

    def _hook(kind, exc, tb, _default=_sys.excepthook):
        print("raised:", " ".join(c.__name__ for c in kind.__mro__), file=_sys.stderr)
        _default(kind, exc, tb)

    _sys.excepthook = _hook
    """
)

FINISHED = textwrap.dedent(
    """
    _run = wandb.run or run
    _run.finish()
    _api = wandb.Api()
    _stored = _api.run(_run.path)
    """
)
# What the pages say comes out, checked after the block.
EPILOGUES = {
    "seed000-L19": "assert wandb.run is run and run.id\n",
    "seed002-L19": "assert wandb.run is run and run.id\n",
    "seed000-L358": FINISHED + 'assert _stored.summary["accuracy"] == 0.9\n'
    'assert _stored.summary["epoch"] == 5\n',
    "seed000-L367": FINISHED + "_rows = list(_stored.scan_history())\n"
    'assert [(r["_step"], r["loss"], r["accuracy"]) for r in _rows] == [(0, 0.2, 0.8)]\n',
    "seed002-L393": FINISHED + 'assert _stored.summary["train/accuracy"] == 0.9\n'
    'assert _stored.summary["validate/loss"] == 20\n',
    "seed002-L420": FINISHED + 'assert _stored.summary["epoch"] == 40\n',
    # "all equivalent": four committed rows, then explicit steps below run.step are dropped
    "seed002-L429": FINISHED + "_rows = list(_stored.scan_history())\n"
    'assert [r["accuracy"] for r in _rows] == [0.8, 0.9, 0.8, 0.9]\n'
    'assert _stored.summary["train-loss"] == 0.4\n',
    "seed000-L530": "assert run.log_code() is not None\n",
    "seed002-L638": "assert run.log_code() is not None\n",
    "seed002-L804": FINISHED + "_names = {f.name for f in _stored.files()}\n"
    "assert {'these/are/myfiles/a.txt', 'are/myfiles/a.txt', 'run123/r.txt',\n"
    "        'username/Documents/run123/r.txt', 'files/x/saveme.txt',\n"
    "        'files/y/saveme.txt'} <= _names, _names\n",
    "seed001-L160": 'assert run.state == "pending"\n'
    'assert api.run("entity/project/my-pending-run").state == "pending"\n',
    "seed001-L301": "assert losses == [1.0, 0.5, 0.25]\n",
    "seed001-L348": "assert [a.name for a in finished_run.used_artifacts()] == ['test_artifact:v0']\n",
    "seed004-L193": "assert losses == [1.0, 0.5, 0.25]\n",
    "seed002-L942": FINISHED
    + "assert [a.name for a in _stored.used_artifacts()] == 3 * ['my_model_artifact:v0']\n",
}
# media: the legacy PR chart is a table with its chart; three 3-D files, their types kept
EPILOGUES["seed000-L447"] = (
    FINISHED + '_pr = _stored.media("pr")\n'
    'assert [(m.type, m.chart["kind"]) for m in _pr] == [("table-file", "pr_curve")], _pr\n'
)
EPILOGUES["seed000-L452"] = (
    FINISHED + '_objs = _stored.media("generated_samples")\n'
    'assert [m.ref["format"] for m in _objs] == ["obj", "gltf", "glb"], _objs\n'
)
EPILOGUES["seed002-L562"] = EPILOGUES["seed003-L328"] = EPILOGUES["seed000-L452"]
EPILOGUES["seed002-L462"] = EPILOGUES["seed000-L358"]
EPILOGUES["seed002-L471"] = EPILOGUES["seed000-L367"]
# The runs the read-side examples open by path, made beforehand with a "Loss" column.
READ_RUNS = {
    "seed001-L301": ("entity", "project-name", "run-id"),
    "seed004-L193": ("l2k2", "examples-numpy-boston", "i0wt6xua"),
}

# The versions the artifact examples use, logged beforehand as a W&B user's earlier run would:
# (entity or None for the default one, project, name, type). The pages' ``<digest>`` placeholder
# becomes the digest of the last one.
ARTIFACTS = {
    "seed001-L348": [(None, "artifact-example", "test_artifact", "dataset")],
    "seed002-L942": [
        (None, "uncategorized", "my_model_artifact", "model"),
        (None, "my_project", "my_model_artifact", "model"),
        ("my_entity", "my_project", "my_model_artifact", "model"),
    ],
}


def _prelude(code: str) -> str:
    """What a W&B user defines before pasting the block: the names it uses but lacks."""
    lines = ["import os", "import tracker as wandb"]
    if re.search(r"\bapi\.", code) and "api =" not in code:
        lines.append("api = wandb.Api()")
    if re.search(r"\bRun\.create\b", code):
        lines.append("Run = wandb.apis.public.Run  # the page's wandb.apis.public.Run")
    uses_run = re.search(r"^run\.|\brun\.(log|save|link|use|log_code)", code, re.M)
    if uses_run and not re.search(r"\brun = |as run:", code):
        lines.append("run = wandb.init()")
    if re.search(r"^wandb\.(log|save)\(", code, re.M) and "wandb.init(" not in code:
        lines.append("wandb.init()")
    if "current_step" in code:
        lines.append("current_step = run.step")
    if "y_test" in code:
        lines.append("y_test = [0, 1, 1, 0]")
        lines.append("y_probas = [[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.9, 0.1]]")
        lines.append('labels = ["cat", "dog"]')
    return "\n".join(lines) + "\n"


def _placeholders(code: str, root: str) -> str:
    """The pages' example paths as folders of this test (made by ``_make_inputs``)."""
    code = code.replace('"/local/directory"', repr(os.path.join(root, "local", "directory")))
    return code.replace('"/User', '"' + os.path.join(root, "User"))


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)


def _make_inputs(root: str) -> None:
    """The files the examples read: save()'s globs, Object3D's samples, a model folder."""
    for rel in (
        "these/are/myfiles/a.txt",
        "files/x/saveme.txt",
        "files/y/saveme.txt",
        "User/username/Documents/run123/r.txt",
        "local/directory/model.pt",
        "train.py",
    ):
        _write(os.path.join(root, rel), rel)
    _write(os.path.join(root, "sample.obj"), "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    _write(os.path.join(root, "sample.gltf"), '{"asset": {"version": "2.0"}}')
    _write(os.path.join(root, "sample.glb"), "glTF")


def _read_run(entity: str, project: str, run_id: str) -> None:
    run = tracker.init(entity=entity, project=project, id=run_id)
    for loss in (1.0, 0.5, 0.25):
        run.log({"Loss": loss, "other": 1})
    run.log({"other": 2})  # a row without Loss: scan_history(keys=["Loss"]) skips it
    run.finish()


def _log_artifacts(wanted: list, root: str) -> str:
    """Log each wanted version (one file) in its own run; return the last one's digest."""
    digest = ""
    for entity, project, name, type_ in wanted:
        run = tracker.init(entity=entity, project=project)
        art = tracker.Artifact(name, type=type_)
        art.add_file(os.path.join(root, "local", "directory", "model.pt"))
        digest = run.log_artifact(art).wait().digest
        run.finish()
    return digest


def _cases() -> list:
    cases = []
    for example in examples():
        marks = []
        if example.id in WAITS:
            marks.append(pytest.mark.xfail(reason=WAITS[example.id], strict=True))
        cases.append(pytest.param(example, id=example.id, marks=marks))
    return cases


def test_every_example_block_is_collected():
    """45 blocks: a seed page edited so that blocks vanish shows here, not as fewer tests."""
    found = examples()
    assert len(found) == 45
    by_seed = {s: sum(1 for e in found if e.seed == s) for s in ("000", "001", "002", "003", "004")}
    assert by_seed == {"000": 14, "001": 4, "002": 25, "003": 1, "004": 1}
    assert set(WAITS) <= {e.id for e in found}


@pytest.mark.parametrize("example", _cases())
def test_seed_example_runs_with_tracker_as_wandb(example: Example, tracker_env, run_script):
    root = tracker_env["root"]
    _make_inputs(root)
    if example.id in READ_RUNS:
        _read_run(*READ_RUNS[example.id])
    code = _placeholders(as_script(example.code), root)
    if example.id in ARTIFACTS:
        code = code.replace("<digest>", _log_artifacts(ARTIFACTS[example.id], root))
    body = _prelude(code) + code + "\n" + EPILOGUES.get(example.id, "")
    if example.id in MUST_RAISE:
        proc = run_script(RAISED + body, timeout=120)
        assert proc.returncode != 0
        assert re.search(r"^raised: .*\b(ValueError|AssertionError)\b", proc.stderr, re.M), (
            proc.stderr
        )
        return
    proc = run_script(body, timeout=120)
    assert proc.returncode == 0, f"script failed:\n{body}\n--- stderr:\n{proc.stderr}"
