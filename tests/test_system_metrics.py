"""System metrics: sampled by the sidecar's one sampler, read back as the system stream."""

import os
import time
from types import SimpleNamespace

import pyarrow.parquet as pq
import tracker
from tracker.service.sampler import collect_gpus
from tracker.service.worker import StageErrors

HOST_KEYS = {
    "system.cpu",
    "system.memory",
    "system.memory.usedMB",
    "system.memory.availableMB",
    "system.disk.usagePercent",
    "system.disk.usageGB",
    "system.network.sentBytesPerSec",
    "system.network.recvBytesPerSec",
    "system.disk.readBytesPerSec",
    "system.disk.writeBytesPerSec",
}
PROC_KEYS = {"proc.cpu", "proc.memory.rssMB", "proc.cpu.threads"}


def test_samples_land_in_the_system_stream_while_logging_at_full_speed(api):
    run = tracker.init(project="sys", settings={"system_sample_interval": 0.1})
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < 1.5:
        run.log({"i": i})
        i += 1
    run.finish()
    r = api.run(run.path)
    assert [row["i"] for row in r.scan_history()] == list(range(i))  # nothing lost
    rows = r.history(stream="system", pandas=False, samples=10_000)
    assert len(rows) >= 8
    assert HOST_KEYS | PROC_KEYS <= set().union(*rows[2:])
    assert not any(k.startswith("gpu.") for row in rows for k in row)  # no NVML here: no GPU keys
    assert all(0 <= row["system.memory"] <= 100 for row in rows)
    assert all(row["proc.memory.rssMB"] > 10 for row in rows)
    assert [row["_timestamp"] for row in rows] == sorted(row["_timestamp"] for row in rows)
    assert r.system_metrics["system.memory"] == rows[-1]["system.memory"]
    folder = os.path.join(api.store_root, "runs", "tester", "sys", run.id, "system")
    assert sum(pq.read_table(os.path.join(folder, f)).num_rows for f in os.listdir(folder)) == len(
        rows
    )
    log = open(os.path.join(run.sync_dir, "logs", "sidecar.log")).read()
    assert "Traceback" not in log and "error" not in log.lower()


def test_interval_zero_disables_sampling(api):
    run = tracker.init(project="sys", settings={"system_sample_interval": 0})
    run.log({"a": 1})
    time.sleep(0.5)
    run.finish()
    r = api.run(run.path)
    assert r.history(stream="system", pandas=False) == [] and r.system_metrics == {}


def test_one_sampler_serves_every_run_of_the_host(start_script, api):
    code = """
        import time, tracker
        run = tracker.init(project="sys", group="ranks", settings={"system_sample_interval": 0.2})
        print(run.path, flush=True)
        time.sleep(2)
        run.finish()
        """
    procs = [start_script(code) for _ in range(3)]
    paths = [p.stdout.readline().split()[0] for p in procs]
    for p in procs:
        p.wait(timeout=60)
    stamps = [
        {
            round(row["_timestamp"], 6)
            for row in api.run(path).history(stream="system", pandas=False)
        }
        for path in paths
    ]
    shared = stamps[0] & stamps[1] & stamps[2]
    assert len(shared) >= 3  # the same host samples, taken once and given to each run
    rss = [api.run(path).system_metrics["proc.memory.rssMB"] for path in paths]
    assert all(x > 10 for x in rss)


class FakeNvml:
    """Stands in for NVML (no NVIDIA GPU exists on CI); the real path runs on a GPU machine."""

    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_SM = 1

    def nvmlDeviceGetCount(self):  # noqa: N802
        return 2

    def nvmlDeviceGetHandleByIndex(self, i):  # noqa: N802
        if i == 1:
            raise RuntimeError("GPU is lost")
        return "h0"

    def nvmlDeviceGetUtilizationRates(self, h):  # noqa: N802
        return SimpleNamespace(gpu=87, memory=40)

    def nvmlDeviceGetMemoryInfo(self, h):  # noqa: N802
        return SimpleNamespace(used=20 * 2**30, total=80 * 2**30)

    def nvmlDeviceGetTemperature(self, h, kind):  # noqa: N802
        return 61

    def nvmlDeviceGetPowerUsage(self, h):  # noqa: N802
        return 350_000

    def nvmlDeviceGetEnforcedPowerLimit(self, h):  # noqa: N802
        return 700_000

    def nvmlDeviceGetClockInfo(self, h, kind):  # noqa: N802
        raise RuntimeError("not supported")

    def nvmlDeviceGetComputeRunningProcesses(self, h):  # noqa: N802
        return [SimpleNamespace(pid=1234, usedGpuMemory=5 * 2**30)]


def test_gpu_collector_reads_each_value_in_its_own_try():
    row, by_pid = collect_gpus(FakeNvml(), StageErrors("sampler"))
    assert row == {
        "gpu.0.gpu": 87,
        "gpu.0.memory": 40,
        "gpu.0.memoryAllocatedBytes": 20 * 2**30,
        "gpu.0.memoryTotalBytes": 80 * 2**30,
        "gpu.0.memoryAllocated": 25.0,
        "gpu.0.temp": 61,
        "gpu.0.powerWatts": 350.0,
        "gpu.0.enforcedPowerLimitWatts": 700.0,
        "gpu.0.powerPercent": 50.0,
    }
    assert by_pid == {1234: {0: 5 * 2**30}}


def test_missing_nvml_or_driver_is_no_gpu_metrics_not_an_error(monkeypatch):
    import sys
    import types

    from tracker.service.sampler import load_nvml

    monkeypatch.setitem(sys.modules, "pynvml", None)  # nvidia-ml-py not installed
    assert load_nvml() is None
    broken = types.ModuleType("pynvml")

    def no_driver():
        raise OSError("NVML Shared Library Not Found")

    broken.nvmlInit = no_driver
    monkeypatch.setitem(sys.modules, "pynvml", broken)  # installed, but no driver or GPU
    assert load_nvml() is None
