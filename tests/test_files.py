"""Saved files (§4.5) and the files read API (§5): policies, names, restore, upload."""

import hashlib
import os
import time

import pytest
import tracker
from conftest import in_store, wait_until


def stored_names(api, run):
    return {f.name for f in api.run(run.path).files()}


def write(path, text):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)


@pytest.fixture
def tree(tracker_env):
    root = tracker_env["root"]
    for rel in (
        "these/are/myfiles/a.txt",
        "these/are/myfiles/b.txt",
        "files/x/saveme.txt",
        "files/y/saveme.txt",
        "files/y/other.txt",
    ):
        write(os.path.join(root, rel), rel)
    absdir = os.path.join(root, "User", "username", "Documents", "run123")
    write(os.path.join(absdir, "r.txt"), "r")
    write(os.path.join(absdir, "skip.bin"), "b")
    return root


def test_the_five_base_path_examples_of_seed_002(tree, api):
    run = tracker.init(project="files")
    files = os.path.join(run.sync_dir, "files")
    rel = lambda paths: [os.path.relpath(p, files) for p in paths]  # noqa: E731
    assert rel(run.save("these/are/myfiles/*", policy="now")) == [
        "these/are/myfiles/a.txt",
        "these/are/myfiles/b.txt",
    ]
    assert rel(run.save("these/are/myfiles/*", base_path="these", policy="now")) == [
        "are/myfiles/a.txt",
        "are/myfiles/b.txt",
    ]
    absglob = os.path.join(tree, "User/username/Documents/run123/*.txt")
    assert rel(run.save(absglob, policy="now")) == ["run123/r.txt"]
    assert rel(run.save(absglob, base_path=os.path.join(tree, "User"), policy="now")) == [
        "username/Documents/run123/r.txt"
    ]
    assert rel(tracker.save("files/*/saveme.txt", policy="now")) == [
        "files/x/saveme.txt",
        "files/y/saveme.txt",
    ]
    link = os.path.join(files, "run123/r.txt")
    assert os.path.islink(link) and os.readlink(link) == os.path.join(
        tree, "User/username/Documents/run123/r.txt"
    )
    run.finish()
    assert {
        "these/are/myfiles/a.txt",
        "are/myfiles/b.txt",
        "run123/r.txt",
        "username/Documents/run123/r.txt",
        "files/x/saveme.txt",
        "files/y/saveme.txt",
    } <= stored_names(api, run)
    assert not os.path.islink(link) and open(link).read() == "r"  # self-contained after finish


def test_save_arguments(tree):
    run = tracker.init(project="files")
    assert run.save() == [] and run.save(None) == []
    with pytest.raises(ValueError, match="policy"):
        run.save("these/*", policy="sometimes")
    with pytest.raises(ValueError, match="outside base_path"):
        run.save("these/are/myfiles/*", base_path="files")
    assert run.save("no/such/*") == []


def test_now_is_stored_during_the_run_and_later_edits_do_not_change_it(tree, api):
    run = tracker.init(project="files")
    path = os.path.join(tree, "now.txt")
    write(path, "first")
    run.save(path, base_path=tree, policy="now")
    r = api.run(run.path)
    wait_until(lambda: r.file("now.txt"))
    write(path, "second")
    run.log({"a": 1})
    run.finish()
    f = api.run(run.path).file("now.txt")
    assert f.size == 5 and f.md5 == hashlib.md5(b"first").hexdigest()
    assert open(os.path.join(run.sync_dir, "files", "now.txt")).read() == "first"


def test_end_file_is_absent_until_finish(tree, api):
    run = tracker.init(project="files")
    path = os.path.join(tree, "end.txt")
    write(path, "v1")
    run.save(path, base_path=tree, policy="end")
    run.status()
    time.sleep(0.5)
    assert api.run(run.path).file("end.txt") is None
    write(path, "final")
    run.finish()
    assert api.run(run.path).file("end.txt").md5 == hashlib.md5(b"final").hexdigest()


@pytest.mark.parametrize("watch", ["watchdog", "poll"])
def test_live_file_rewritten_20_times_is_copied_at_most_once_per_interval(
    tree, api, watch, monkeypatch
):
    monkeypatch.setenv("TRACKER_FILE_WATCH", "auto" if watch == "watchdog" else "poll")
    run = tracker.init(project="files", settings={"live_interval": 0.5})
    from tracker.client.control import sidecar_statuses

    assert sidecar_statuses()[0]["file_watch"] == watch
    path = os.path.join(tree, "live.txt")
    write(path, "v0")
    run.save(path, base_path=tree, policy="live")
    t0 = time.monotonic()
    for i in range(1, 21):
        write(path, f"v{i}" + "." * i)
        time.sleep(0.1)
    elapsed = time.monotonic() - t0
    run.status()
    (record,) = api.store.catalogue.get_files("tester", "files", run.id, names=["live.txt"])
    # intermediate versions: at most one copy per live_interval (plus the first one)
    assert 2 <= record["copies"] <= elapsed / 0.5 + 1
    run.finish()
    f = api.run(run.path).file("live.txt")
    assert f.md5 == hashlib.md5(("v20" + "." * 20).encode()).hexdigest()
    assert f.size == 23
    assert open(os.path.join(run.sync_dir, "files", "live.txt")).read() == "v20" + "." * 20


def test_a_deleted_file_is_reported_not_fatal(tree, api):
    run = tracker.init(project="files")
    path = os.path.join(tree, "gone.txt")
    write(path, "x")
    run.save(path, base_path=tree, policy="end")
    os.unlink(path)  # gone when its copy is due, at finish
    dangling = os.path.join(tree, "dangling.txt")
    os.symlink(os.path.join(tree, "no", "such", "file"), dangling)
    assert run.save(dangling, base_path=tree, policy="now")  # unreadable when its copy is due
    run.log({"a": 1})
    st = run.status()
    assert any("dangling.txt" in e for e in st.file_errors)
    run.finish()
    r = api.run(run.path)
    assert r.state == "finished" and r.file("gone.txt") is None
    assert "gone.txt" in open(os.path.join(run.sync_dir, "logs", "sidecar.log")).read()


def test_a_file_name_that_climbs_out_of_the_store_is_refused_not_fatal(tree, api, tracker_env):
    from tracker.proto.messages import Kind

    run = tracker.init(project="files")
    path = os.path.join(tree, "x.txt")
    write(path, "x")
    # what save() never sends, but a raw record can: the sidecar must not trust the name
    run._send(Kind.SAVE, {"policy": "now", "files": [["../../../../escape.txt", path]]})
    run.log({"a": 1})
    assert any("escape.txt" in e and "invalid" in e for e in run.status().file_errors)
    run.finish()
    assert api.run(run.path).state == "finished"
    store_parent = os.path.dirname(tracker_env["store"])
    assert not [f for _, _, fs in os.walk(store_parent) for f in fs if f == "escape.txt"]


def test_status_shows_files_pending_by_policy(tree):
    run = tracker.init(project="files")
    path = os.path.join(tree, "later.txt")
    write(path, "x")
    run.save(path, base_path=tree, policy="end")
    st = run.status()
    # live also counts the run's own files (config.yaml, summary.json...) until first copied
    assert st.files_pending["end"] == 1 and st.files_pending["now"] == 0
    run.finish()
    assert run._final_summary is not None


def test_save_of_1000_files_returns_promptly(tree, api):
    folder = os.path.join(tree, "many")
    for i in range(1000):
        write(os.path.join(folder, f"f{i:04d}.txt"), str(i))
    run = tracker.init(project="files")
    t0 = time.monotonic()
    created = run.save(os.path.join(folder, "*.txt"), policy="now")
    took = time.monotonic() - t0
    assert len(created) == 1000
    run.finish()
    assert len(api.run(run.path).files(pattern="many/%")) == 1000
    assert took < 5  # generous: it only links; the copying is the sidecar's


def test_restore_downloads_only_when_absent_unless_replace(tree, api, tmp_path):
    run = tracker.init(project="files", id="source1")
    write(os.path.join(tree, "ckpt.txt"), "weights")
    run.save(os.path.join(tree, "ckpt.txt"), base_path=tree, policy="now")
    run.finish()

    run2 = tracker.init(project="files", reinit=True)
    fh = run2.restore("ckpt.txt", run_path="tester/files/source1")
    assert fh.read() == "weights" and fh.name == os.path.join(run2.dir, "ckpt.txt")
    write(os.path.join(run2.dir, "ckpt.txt"), "local edit")
    assert run2.restore("ckpt.txt", run_path="tester/files/source1").read() == "local edit"
    assert (
        run2.restore("ckpt.txt", run_path="tester/files/source1", replace=True).read() == "weights"
    )
    got = run2.restore("ckpt.txt", run_path="files/source1", root=str(tmp_path))
    assert got.read() == "weights" and got.name == str(tmp_path / "ckpt.txt")
    with pytest.raises(ValueError, match="no file"):
        run2.restore("missing.txt", run_path="tester/files/source1")
    with pytest.raises(ValueError, match="not found"):
        run2.restore("ckpt.txt", run_path="tester/files/nosuchrun")


def test_files_read_api(tree, api, tmp_path):
    run = tracker.init(project="files")
    run.save("these/are/myfiles/*", policy="now")
    run.finish()
    r = api.run(run.path)
    names = [f.name for f in r.files()]
    assert {"these/are/myfiles/a.txt", "config.yaml", "summary.json", "metadata.json"} <= set(names)
    assert [f.name for f in r.files(pattern="%.json")] == ["metadata.json", "summary.json"]
    assert [f.name for f in r.files(names=["config.yaml"])] == ["config.yaml"]
    with pytest.raises(ValueError):
        r.files(names=["a"], pattern="%")
    f = r.file("these/are/myfiles/a.txt")
    assert (
        f.size == len("these/are/myfiles/a.txt")
        and f.md5 == hashlib.md5(b"these/are/myfiles/a.txt").hexdigest()
    )
    assert f.updated_at.endswith("+00:00") and f.url.startswith("file://")
    assert f.download(root=str(tmp_path)).read() == "these/are/myfiles/a.txt"
    with pytest.raises(ValueError, match="exists"):
        f.download(root=str(tmp_path))
    f.download(root=str(tmp_path), replace=True)
    # upload_file: the stored name is the path relative to root (seed 001)
    write(os.path.join(tree, "my_dir", "file.txt"), "up")
    os.chdir(os.path.join(tree, "my_dir"))
    up = r.upload_file("file.txt", root="../")
    assert up.name == "my_dir/file.txt" and r.file("my_dir/file.txt").size == 2


def test_output_is_captured_to_output_log_and_still_shown(run_script, api):
    env = {**os.environ, "TRACKER_CONSOLE": "redirect"}
    proc = run_script(
        """
        import os, sys, tracker
        run = tracker.init(project="files")
        for i in range(100_000):
            print(f"line {i}")
        print("to stderr", file=sys.stderr)
        os.system("echo from a child process")
        run.finish()
        print("PATH", run.path)
        """,
        env=env,
        check=True,
    )
    shown = proc.stdout.splitlines()
    assert shown[:100_000] == [f"line {i}" for i in range(100_000)]
    assert "to stderr" in proc.stderr
    path = shown[-1].split()[1]
    f = api.run(path).file("output.log")
    text = f.download(root=os.path.dirname(api.store_root), replace=True).read()
    lines = text.splitlines()
    assert [x for x in lines if x.startswith("line ")] == [f"line {i}" for i in range(100_000)]
    assert "to stderr" in lines and "from a child process" in lines


def test_run_files_metadata_requirements_and_live_config(tracker_env, api):
    import json
    import subprocess

    root = tracker_env["root"]
    git = lambda *a: subprocess.run(["git", *a], cwd=root, check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    write(os.path.join(root, "train.py"), "print('hi')\n")
    git("add", "train.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    write(os.path.join(root, "train.py"), "print('changed')\n")  # dirty

    run = tracker.init(project="files", config={"lr": 1})
    run.config.update({"batch": 8})
    run.log({"acc": 0.5})
    r = api.run(run.path)
    wait_until(lambda: r.file("requirements.txt") and r.file("config.yaml"), timeout=20)
    wait_until(
        lambda: b"batch" in open(in_store(api, r.file("config.yaml")), "rb").read(), timeout=20
    )
    run.finish()
    r = api.run(run.path)
    meta = r.metadata
    assert meta["git"]["commit"] == commit and meta["git"]["dirty"] is True
    assert meta["host"] and meta["python"] and meta["args"] and meta["cpu_count"] >= 1
    reqs = open(in_store(api, r.file("requirements.txt"))).read()
    assert "msgpack==" in reqs and "pyzmq==" in reqs
    stored_meta = json.load(open(in_store(api, r.file("metadata.json"))))
    assert stored_meta["git"]["commit"] == commit
    summary = json.load(open(in_store(api, r.file("summary.json"))))
    assert summary["acc"] == 0.5


def test_log_code_with_one_and_two_argument_functions(tracker_env, api):
    root = tracker_env["root"]
    for rel in (
        "train.py",
        "pkg/model.py",
        "pkg/notes.md",
        "cache/tmp.py",
        "Dockerfile",
        "nb.ipynb",
    ):
        write(os.path.join(root, rel), rel)
    run = tracker.init(project="files")
    created = run.log_code()
    names = sorted(os.path.relpath(p, os.path.join(run.sync_dir, "files")) for p in created)
    assert names == ["code/Dockerfile", "code/cache/tmp.py", "code/pkg/model.py", "code/train.py"]
    run.log_code(
        root,
        include_fn=lambda path: path.endswith(".py") or path.endswith(".ipynb"),
        exclude_fn=lambda path, root: os.path.relpath(path, root).startswith("cache"),
    )
    assert run.log_code(root, include_fn=lambda p: p.endswith(".nothing")) is None
    run.finish()
    stored = {f.name for f in api.run(run.path).files(pattern="code/%")}
    assert stored == {
        "code/Dockerfile",
        "code/cache/tmp.py",
        "code/pkg/model.py",
        "code/train.py",
        "code/nb.ipynb",
    }
    model = api.run(run.path).file("code/pkg/model.py")
    assert open(in_store(api, model)).read() == "pkg/model.py"


def test_a_1gb_file_is_copied_in_chunks_while_another_run_logs(tracker_env, api, start_script):
    import json

    from tracker.client.runtime import sidecar_paths

    big = os.path.join(tracker_env["root"], "big.bin")
    with open(big, "wb") as fh:
        fh.truncate(1 << 30)  # sparse: cheap to make, a real gigabyte to read and copy
    run = tracker.init(project="files")
    pid = json.load(open(sidecar_paths(tracker_env["store"]).info))["pid"]
    run.save(big, base_path=tracker_env["root"], policy="now")
    other = start_script(
        """
        import tracker
        run = tracker.init(project="files")
        for i in range(20000):
            run.log({"i": i})
        run.finish()
        print(run.path)
        """
    )
    out, err = other.communicate(timeout=120)
    assert other.returncode == 0, err
    assert api.run(out.split()[0]).lastHistoryStep == 19999
    run.finish()
    f = api.run(run.path).file("big.bin")
    assert f.size == 1 << 30
    with open(f"/proc/{pid}/status") as fh:
        peak_mb = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024
    assert peak_mb < 400  # the gigabyte never sat in the sidecar's memory
    local = os.path.join(run.sync_dir, "files", "big.bin")
    assert not os.path.islink(local) and os.path.getsize(local) == 1 << 30
    for path in (in_store(api, f), local, big):
        os.unlink(path)
