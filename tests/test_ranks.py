"""Many ranks on one host (§3, §6): one sidecar, one group, every row of every rank."""

import os
import subprocess
import sys

import pytest
from conftest import REPO


def test_eight_ranks_share_one_sidecar_and_lose_nothing(start_script, api):
    code = """
        import sys, tracker
        rank = int(sys.argv[1]) if len(sys.argv) > 1 else 0
        run = tracker.init(project="ranks", group="job-8", job_type="train")
        for i in range(30_000):  # 3 parts and a compaction each; bench_ranks does 100k
            run.log({"i": i, "loss": 1.0 / (i + 1)})
        run.finish()
        print(run.path)
        """
    procs = [start_script(code) for _ in range(8)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    runs = api.runs("ranks", filters={"group": "job-8"})
    assert len(runs) == 8 and {r.job_type for r in runs} == {"train"}
    for r in runs:
        assert r.state == "finished" and r.lastHistoryStep == 29_999
        steps = [row["_step"] for row in r.beta_scan_history(keys=["i"])]
        assert steps == list(range(30_000))
    from tracker.client.runtime import all_sidecars

    assert len(all_sidecars()) == 1


def test_a_script_next_to_its_tracker_folder_still_imports_the_package(tracker_env, tmp_path):
    # the run folder "tracker/" must never shadow the installed package
    work = tmp_path / "proj"
    work.mkdir()
    (work / "train.py").write_text(
        "import tracker\nrun = tracker.init(project='x')\nrun.log({'a': 1})\nrun.finish()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TRACKER_DIR"}  # run dirs go to ./tracker/
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "train.py"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
    assert (work / "tracker").is_dir()


def test_torch_distributed_example_logs_each_rank_in_one_group(tracker_env, api):
    pytest.importorskip("torch", reason="the dist extra (torch==2.13.0) is installed by .ci/run")
    out = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "examples", "distributed_torch.py"),
            "--group",
            "ddp-test",
            "--steps",
            "50",
            "--world-size",
            "2",  # two ranks prove the grouping; each one more costs a torch import
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    runs = api.runs("distributed", filters={"group": "ddp-test"}, order="+name")
    assert [r.name for r in runs] == [f"ddp-test-rank-{i}" for i in range(2)]
    for r in runs:
        assert r.state == "finished" and r.lastHistoryStep == 49
        assert r.config["world_size"] == 2
        # the all-reduced loss is the same on every rank
    first = [row["global_loss"] for row in runs[0].scan_history(keys=["global_loss"])]
    for r in runs[1:]:
        assert [
            row["global_loss"] for row in r.scan_history(keys=["global_loss"])
        ] == pytest.approx(first)
