"""W&B's ``wandb.Settings`` names, as ``tracker.Settings`` takes them (a one-import port).

A name with a local meaning becomes a tracker setting (``x_disable_stats`` → no system
sampling) or an ``init`` argument that was not given (``mode``, ``project``, ``run_id``...);
the other names W&B has are accepted with one warning each per process; a name W&B does not
have is still refused by ``tracker.Settings``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# W&B setting -> (tracker setting, how the value translates)
TO_SETTING: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "x_disable_stats": ("system_sample_interval", lambda off: 0.0 if off else None),
    "_disable_stats": ("system_sample_interval", lambda off: 0.0 if off else None),
    "x_stats_sampling_interval": ("system_sample_interval", float),
    "_stats_sample_rate_seconds": ("system_sample_interval", float),
    "init_timeout": ("init_timeout", float),
    "x_service_wait": ("init_timeout", float),
    "_service_wait": ("init_timeout", float),
    "x_live_policy_rate_limit": ("live_interval", float),
}

# W&B setting -> the ``init`` argument it fills when that argument was not given
TO_INIT: dict[str, str] = {
    "mode": "mode",
    "project": "project",
    "entity": "entity",
    "run_id": "id",
    "run_name": "name",
    "run_group": "group",
    "run_job_type": "job_type",
    "run_notes": "notes",
    "run_tags": "tags",
    "root_dir": "dir",
    "resume": "resume",
    "save_code": "save_code",
    "allow_val_change": "allow_val_change",
    "fork_from": "fork_from",
    "resume_from": "resume_from",
    "reinit": "reinit",
}

# The rest of W&B's settings (0.16 - 0.2x): accepted, without a local meaning.
ACCEPTED = frozenset(
    """
    allow_offline_artifacts anonymous api_key azure_account_url_to_access_key base_url
    code_dir config_paths console_multipart credentials_file disable_code disable_git
    disable_hints disable_job_creation docker email force git_commit git_remote git_remote_url
    git_root heartbeat_seconds host http_proxy https_proxy identity_token_file ignore_globs
    insecure_disable_ssl job_name job_source label_disable launch launch_config_path
    log_internal log_symlink_internal log_symlink_user log_user login_timeout max_end_of_run_history_metrics
    max_end_of_run_summary_metrics notebook_name organization problem program program_abspath
    program_relpath quiet relogin resumed sagemaker_disable settings_system settings_workspace
    show_colors show_emoji show_errors show_info show_warnings start_method strict
    summary_timeout summary_warnings sweep_id sweep_param_path sweep_url symlink
    sync_tensorboard table_raise_on_max_row_limit_exceeded username
    x_cli_only_mode x_disable_machine_info x_disable_meta x_disable_service x_disable_setproctitle
    x_disable_update_check x_disable_viewer x_executable x_extra_http_headers
    x_file_stream_max_bytes x_file_stream_max_line_bytes x_file_stream_retry_max
    x_file_stream_retry_wait_max_seconds x_file_stream_retry_wait_min_seconds
    x_file_stream_timeout_seconds x_file_stream_transmit_interval x_file_transfer_retry_max
    x_file_transfer_retry_wait_max_seconds x_file_transfer_retry_wait_min_seconds
    x_file_transfer_timeout_seconds x_files_dir x_flow_control_custom x_flow_control_disabled
    x_graphql_retry_max x_graphql_retry_wait_max_seconds x_graphql_retry_wait_min_seconds
    x_graphql_timeout_seconds x_internal_check_process x_jupyter_name x_jupyter_path
    x_jupyter_root x_label x_live_policy_wait_time x_log_level x_network_buffer x_primary
    x_primary_node x_proxies x_require_legacy_service x_runqueue_item_id x_save_requirements
    x_server_side_derived_summary x_server_side_expand_glob_metrics x_service_transport
    x_show_operation_stats x_skip_transaction_log x_start_time x_stats_buffer_size
    x_stats_coreweave_metadata_base_url x_stats_coreweave_metadata_endpoint x_stats_cpu_count
    x_stats_cpu_logical_count x_stats_dcgm_exporter x_stats_disk_paths x_stats_gpu_count
    x_stats_gpu_device_ids x_stats_gpu_type x_stats_neuron_monitor_config_path
    x_stats_no_cgroup x_stats_open_metrics_endpoints x_stats_open_metrics_filters
    x_stats_open_metrics_http_headers x_stats_pid x_stats_samples_to_average
    x_stats_track_process_tree x_sync x_sync_dir_suffix x_update_finish_state
    _disable_meta _disable_machine_info _disable_service _disable_setproctitle _network_buffer
    _offline _noop _quiet _save_requirements _stats_samples_to_average _stats_pid
    """.split()
)

# W&B console modes that capture output (tracker has one way to do it)
CONSOLE = {"auto": "redirect", "wrap": "redirect", "wrap_raw": "redirect", "wrap_emu": "redirect"}

_warned: set[str] = set()


def is_wandb_name(name: str) -> bool:
    """Whether ``name`` is one of W&B's settings that tracker translates or accepts."""
    return name in TO_SETTING or name in TO_INIT or name in ACCEPTED


def translate(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split W&B names out of ``Settings(**kwargs)``.

    Returns:
        ``(tracker settings, init arguments)`` taken from W&B names; ``kwargs`` keeps only
        tracker's own names (and unknown ones, for the constructor to refuse).
    """
    settings: dict[str, Any] = {}
    init_args: dict[str, Any] = {}
    for name in [n for n in kwargs if is_wandb_name(n)]:
        value = kwargs.pop(name)
        if name in TO_SETTING:
            target, convert = TO_SETTING[name]
            converted = convert(value) if value is not None else None
            if converted is not None:
                settings[target] = converted
        elif name in TO_INIT:
            if value is not None:
                init_args[TO_INIT[name]] = value
        else:
            warn_once(name)
    if kwargs.get("console") in CONSOLE:
        kwargs["console"] = CONSOLE[kwargs["console"]]
    return settings, init_args


def warn_once(name: str) -> None:
    """Say once per process that a W&B setting has no meaning here."""
    if name in _warned:
        return
    _warned.add(name)
    import warnings

    warnings.warn(
        f"tracker.Settings: W&B setting {name!r} has no meaning in tracker and is ignored",
        stacklevel=4,
    )
