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
from typing import Any

from tracker.service.queues import drain

_MB = 1024 * 1024


def collect_host(prev: dict[str, Any], disk_path: str) -> dict[str, Any]:
    """Host-wide readings; ``prev`` carries the counters for per-second rates between calls."""
    import psutil

    row: dict[str, Any] = {}
    now = time.monotonic()
    try:
        per_core = psutil.cpu_percent(interval=None, percpu=True)
        if prev.get("primed"):
            row["system.cpu"] = sum(per_core) / max(len(per_core), 1)
            for i, pct in enumerate(per_core):
                row[f"system.cpu.{i}.cpu_percent"] = pct
    except Exception:
        pass
    try:
        vm = psutil.virtual_memory()
        row["system.memory"] = vm.percent
        row["system.memory.usedMB"] = (vm.total - vm.available) / _MB
        row["system.memory.availableMB"] = vm.available / _MB
    except Exception:
        pass
    try:
        du = psutil.disk_usage(disk_path)
        row["system.disk.usagePercent"] = du.percent
        row["system.disk.usageGB"] = du.used / 1024**3
    except Exception:
        pass
    elapsed = now - prev["time"] if "time" in prev else None
    try:
        io = _disk_counters(disk_path)
        if io is not None:
            if elapsed and "disk" in prev:
                row["system.disk.readBytesPerSec"] = (
                    max(0, io.read_bytes - prev["disk"].read_bytes) / elapsed
                )
                row["system.disk.writeBytesPerSec"] = (
                    max(0, io.write_bytes - prev["disk"].write_bytes) / elapsed
                )
            prev["disk"] = io
    except Exception:
        pass
    try:
        net = psutil.net_io_counters()
        if elapsed and "net" in prev:
            row["system.network.sentBytesPerSec"] = (
                max(0, net.bytes_sent - prev["net"].bytes_sent) / elapsed
            )
            row["system.network.recvBytesPerSec"] = (
                max(0, net.bytes_recv - prev["net"].bytes_recv) / elapsed
            )
        prev["net"] = net
    except Exception:
        pass
    prev["time"] = now
    prev["primed"] = True
    return row


def _disk_counters(path: str):
    """I/O counters of the disk holding ``path`` (all disks if it cannot be told)."""
    import psutil

    try:
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
    except Exception:
        pass
    return psutil.disk_io_counters()


def collect_process(proc: Any) -> dict[str, Any]:
    """Readings of one training process (a ``psutil.Process`` primed with ``cpu_percent``)."""
    row: dict[str, Any] = {}
    try:
        with proc.oneshot():
            row["proc.cpu"] = proc.cpu_percent(interval=None)
            row["proc.memory.rssMB"] = proc.memory_info().rss / _MB
            row["proc.cpu.threads"] = proc.num_threads()
    except Exception:
        pass
    return row


def collect_gpus(nvml: Any) -> tuple[dict[str, Any], dict[int, dict[int, int]]]:
    """Readings of every GPU through an initialised NVML module.

    Returns:
        The row of ``gpu.<i>.*`` values, and ``{pid: {gpu index: bytes used}}``.
    """
    row: dict[str, Any] = {}
    by_pid: dict[int, dict[int, int]] = {}
    try:
        count = nvml.nvmlDeviceGetCount()
    except Exception:
        return row, by_pid
    for i in range(count):
        try:
            h = nvml.nvmlDeviceGetHandleByIndex(i)
        except Exception:
            continue
        p = f"gpu.{i}."
        try:
            util = nvml.nvmlDeviceGetUtilizationRates(h)
            row[p + "gpu"] = util.gpu
            row[p + "memory"] = util.memory
        except Exception:
            pass
        try:
            mem = nvml.nvmlDeviceGetMemoryInfo(h)
            row[p + "memoryAllocatedBytes"] = mem.used
            row[p + "memoryTotalBytes"] = mem.total
            row[p + "memoryAllocated"] = 100.0 * mem.used / mem.total if mem.total else 0.0
        except Exception:
            pass
        try:
            row[p + "temp"] = nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU)
        except Exception:
            pass
        power = limit = None
        try:
            power = nvml.nvmlDeviceGetPowerUsage(h) / 1000.0
            row[p + "powerWatts"] = power
        except Exception:
            pass
        try:
            limit = nvml.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0
            row[p + "enforcedPowerLimitWatts"] = limit
        except Exception:
            pass
        if power is not None and limit:
            row[p + "powerPercent"] = 100.0 * power / limit
        try:
            row[p + "smClock"] = nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_SM)
        except Exception:
            pass
        try:
            for proc in nvml.nvmlDeviceGetComputeRunningProcesses(h):
                used = getattr(proc, "usedGpuMemory", None) or 0
                by_pid.setdefault(proc.pid, {})[i] = used
        except Exception:
            pass
    return row, by_pid


def load_nvml() -> Any | None:
    """The initialised ``pynvml`` module, or None when there is no NVML (no error)."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:
        return None
    return pynvml


def gpu_names(nvml: Any) -> list[str]:
    names = []
    try:
        for i in range(nvml.nvmlDeviceGetCount()):
            name = nvml.nvmlDeviceGetName(nvml.nvmlDeviceGetHandleByIndex(i))
            names.append(name.decode() if isinstance(name, bytes) else str(name))
    except Exception:
        pass
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

    def gpu_names(self) -> list[str]:
        self._ensure_nvml()
        return gpu_names(self.nvml) if self.nvml is not None else []

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
        collect_host(prev, "/")  # prime CPU and rate counters
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
            host = collect_host(prev, disk_path)
            gpu_row, gpu_by_pid = collect_gpus(self.nvml) if self.nvml is not None else ({}, {})
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
                        row.update(collect_process(proc))
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

    def stop(self) -> None:
        self._stop = True
        self._wake.set()
