"""System metrics (§4.6 issue, §5 system stream): pure collectors and one sampling thread.

One :class:`Sampler` per sidecar, so one per host and store however many runs are attached:
each tick reads the host (CPU, memory, disk, network, GPUs) once and each attached training
process (CPU, RSS, threads, GPU memory) once, and hands ``(token, timestamp, row)`` to the
ingest thread through a queue. Collectors return dicts and do nothing else; every reading is
in its own ``try`` so one failing counter never loses the others. Without NVML (no
``nvidia-ml-py``, no driver, no GPU) there are simply no ``gpu.*`` keys.

Metric names (W&B's where it has one):

- host: ``system.cpu`` (%), ``system.cpu.<i>.cpu_percent``, ``system.memory`` (%),
  ``system.memory.usedMB``, ``system.memory.availableMB``, ``system.disk.usagePercent``,
  ``system.disk.usageGB``, ``system.disk.readBytesPerSec``, ``system.disk.writeBytesPerSec``,
  ``system.network.sentBytesPerSec``, ``system.network.recvBytesPerSec``
- training process: ``proc.cpu`` (%), ``proc.memory.rssMB``, ``proc.cpu.threads``
- per GPU ``i``: ``gpu.<i>.gpu`` (utilization %), ``gpu.<i>.memory`` (memory-controller %),
  ``gpu.<i>.memoryAllocated`` (%), ``gpu.<i>.memoryAllocatedBytes``,
  ``gpu.<i>.memoryTotalBytes``, ``gpu.<i>.temp`` (°C), ``gpu.<i>.powerWatts``,
  ``gpu.<i>.enforcedPowerLimitWatts``, ``gpu.<i>.powerPercent``, ``gpu.<i>.smClock`` (MHz),
  and for the training process ``gpu.process.<i>.memoryAllocatedBytes``
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tracker.service.worker import StageErrors, drain

_MB = 1024 * 1024


@contextmanager
def reading(errors: StageErrors, name: str) -> Iterator[None]:
    """One reading in its own ``try``: a failure is counted (``status()`` shows it), the
    other readings go on."""
    try:
        yield
    except Exception as exc:
        errors.record(name, exc)


def collect_host(prev: dict[str, Any], disk_path: str, errors: StageErrors) -> dict[str, Any]:
    """Host-wide readings; ``prev`` carries the counters for per-second rates between calls."""
    import psutil

    row: dict[str, Any] = {}
    now = time.monotonic()
    with reading(errors, "system.cpu"):
        per_core = psutil.cpu_percent(interval=None, percpu=True)
        if prev.get("primed"):
            row["system.cpu"] = sum(per_core) / max(len(per_core), 1)
            for i, pct in enumerate(per_core):
                row[f"system.cpu.{i}.cpu_percent"] = pct
    with reading(errors, "system.memory"):
        vm = psutil.virtual_memory()
        row["system.memory"] = vm.percent
        row["system.memory.usedMB"] = (vm.total - vm.available) / _MB
        row["system.memory.availableMB"] = vm.available / _MB
    with reading(errors, "system.disk.usagePercent"):
        du = psutil.disk_usage(disk_path)
        row["system.disk.usagePercent"] = du.percent
        row["system.disk.usageGB"] = du.used / 1024**3
    elapsed = now - prev["time"] if "time" in prev else None
    with reading(errors, "system.disk.readBytesPerSec"):
        _rates(row, prev, "disk", _disk_counters(disk_path, errors), elapsed, _DISK_RATES)
    with reading(errors, "system.network.sentBytesPerSec"):
        _rates(row, prev, "net", psutil.net_io_counters(), elapsed, _NET_RATES)
    prev["time"] = now
    prev["primed"] = True
    return row


_DISK_RATES = {
    "read_bytes": "system.disk.readBytesPerSec",
    "write_bytes": "system.disk.writeBytesPerSec",
}
_NET_RATES = {
    "bytes_sent": "system.network.sentBytesPerSec",
    "bytes_recv": "system.network.recvBytesPerSec",
}


def _rates(
    row: dict, prev: dict, key: str, counters: Any, elapsed: float | None, names: dict
) -> None:
    """Per-second rates of ``counters`` since the previous reading kept in ``prev[key]``."""
    if counters is None:
        return
    if elapsed and key in prev:
        for attr, name in names.items():
            row[name] = max(0, getattr(counters, attr) - getattr(prev[key], attr)) / elapsed
    prev[key] = counters


def _disk_counters(path: str, errors: StageErrors):
    """I/O counters of the disk holding ``path`` (all disks if it cannot be told)."""
    import psutil

    with reading(errors, "psutil.disk_partitions"):
        best = None
        real = os.path.realpath(path)
        for part in psutil.disk_partitions(all=False):
            if real.startswith(part.mountpoint) and (
                best is None or len(part.mountpoint) > len(best.mountpoint)
            ):
                best = part
        if best is not None:
            per = psutil.disk_io_counters(perdisk=True) or {}
            dev = os.path.basename(best.device)
            if dev in per:
                return per[dev]
    return psutil.disk_io_counters()


def collect_process(proc: Any, errors: StageErrors) -> dict[str, Any]:
    """Readings of one training process (a ``psutil.Process`` primed with ``cpu_percent``)."""
    row: dict[str, Any] = {}
    with reading(errors, "proc.cpu"):
        with proc.oneshot():
            row["proc.cpu"] = proc.cpu_percent(interval=None)
            row["proc.memory.rssMB"] = proc.memory_info().rss / _MB
            row["proc.cpu.threads"] = proc.num_threads()
    return row


def collect_gpus(
    nvml: Any, errors: StageErrors
) -> tuple[dict[str, Any], dict[int, dict[int, int]]]:
    """Readings of every GPU through an initialised NVML module.

    Returns:
        The row of ``gpu.<i>.*`` values, and ``{pid: {gpu index: bytes used}}``.
    """
    row: dict[str, Any] = {}
    by_pid: dict[int, dict[int, int]] = {}
    try:
        count = nvml.nvmlDeviceGetCount()
    except Exception as exc:
        errors.record("nvmlDeviceGetCount", exc)
        return row, by_pid
    for i in range(count):
        try:
            h = nvml.nvmlDeviceGetHandleByIndex(i)
        except Exception as exc:
            errors.record(f"nvmlDeviceGetHandleByIndex({i})", exc)
            continue
        p = f"gpu.{i}."
        with reading(errors, "gpu"):
            util = nvml.nvmlDeviceGetUtilizationRates(h)
            row[p + "gpu"] = util.gpu
            row[p + "memory"] = util.memory
        with reading(errors, "memoryAllocatedBytes"):
            mem = nvml.nvmlDeviceGetMemoryInfo(h)
            row[p + "memoryAllocatedBytes"] = mem.used
            row[p + "memoryTotalBytes"] = mem.total
            row[p + "memoryAllocated"] = 100.0 * mem.used / mem.total if mem.total else 0.0
        with reading(errors, "temp"):
            row[p + "temp"] = nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU)
        power = limit = None
        with reading(errors, "powerWatts"):
            power = nvml.nvmlDeviceGetPowerUsage(h) / 1000.0
            row[p + "powerWatts"] = power
        with reading(errors, "enforcedPowerLimitWatts"):
            limit = nvml.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0
            row[p + "enforcedPowerLimitWatts"] = limit
        if power is not None and limit:
            row[p + "powerPercent"] = 100.0 * power / limit
        with reading(errors, "smClock"):
            row[p + "smClock"] = nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_SM)
        with reading(errors, "nvmlDeviceGetComputeRunningProcesses"):
            for proc in nvml.nvmlDeviceGetComputeRunningProcesses(h):
                used = getattr(proc, "usedGpuMemory", None) or 0
                by_pid.setdefault(proc.pid, {})[i] = used
    return row, by_pid


def load_nvml() -> Any | None:
    """The initialised ``pynvml`` module, or None when there is no NVML (no error)."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # no driver or no GPU: no gpu.* keys, as documented (not a failure)
        return None
    return pynvml


def gpu_names(nvml: Any, errors: StageErrors) -> list[str]:
    names = []
    with reading(errors, "nvmlDeviceGetCount"):
        for i in range(nvml.nvmlDeviceGetCount()):
            name = nvml.nvmlDeviceGetName(nvml.nvmlDeviceGetHandleByIndex(i))
            names.append(name.decode() if isinstance(name, bytes) else str(name))
    return names


class Sampler:
    """The sidecar's one sampling thread."""

    def __init__(self) -> None:
        self._targets: dict[int, tuple[int | None, float, str]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self.samples: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.nvml: Any = None
        self._nvml_loaded = False
        self.ticks = 0
        self.errors = StageErrors("sampler")

    def gpu_names(self) -> list[str]:
        self._ensure_nvml()
        return gpu_names(self.nvml, self.errors) if self.nvml is not None else []

    def _ensure_nvml(self) -> None:
        if not self._nvml_loaded:
            self._nvml_loaded = True
            self.nvml = load_nvml()

    def attach(self, token: int, pid: int | None, interval: float, disk_path: str) -> None:
        """Sample for run ``token`` (its process ``pid``) every ``interval`` seconds (>0)."""
        if interval <= 0:
            return
        with self._lock:
            self._targets[token] = (pid, interval, disk_path)
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="sampler", daemon=True)
            self._thread.start()
        self._wake.set()

    def detach(self, token: int) -> None:
        with self._lock:
            self._targets.pop(token, None)

    def _loop(self) -> None:
        import psutil

        self._ensure_nvml()
        prev: dict[str, Any] = {}
        procs: dict[int, Any] = {}
        collect_host(prev, "/", self.errors)  # prime CPU and rate counters
        while not self._stop:
            with self._lock:
                targets = dict(self._targets)
            if not targets:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            interval = min(t[1] for t in targets.values())
            started = time.monotonic()
            disk_path = next(iter(targets.values()))[2]
            ts = time.time()
            host = collect_host(prev, disk_path, self.errors)
            gpu_row, gpu_by_pid = (
                collect_gpus(self.nvml, self.errors) if self.nvml is not None else ({}, {})
            )
            host.update(gpu_row)
            for token, (pid, _, _) in targets.items():
                row = dict(host)
                if pid:
                    proc = procs.get(pid)
                    if proc is None:
                        try:
                            proc = procs[pid] = psutil.Process(pid)
                            proc.cpu_percent(interval=None)
                        except psutil.Error:
                            proc = None
                    if proc is not None:
                        row.update(collect_process(proc, self.errors))
                    for gpu, used in gpu_by_pid.get(pid, {}).items():
                        row[f"gpu.process.{gpu}.memoryAllocatedBytes"] = used
                self.samples.put((token, ts, row))
            self.ticks += 1
            live_pids = {t[0] for t in targets.values()}
            for pid in list(procs):
                if pid not in live_pids:
                    del procs[pid]
            spent = time.monotonic() - started
            self._wake.wait(max(0.0, interval - spent))
            self._wake.clear()

    def drain(self) -> list[tuple[int, float, dict]]:
        return drain(self.samples)

    def stop(self, timeout: float = 5.0) -> None:
        """End the sampling thread (a reading in progress finishes first)."""
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
