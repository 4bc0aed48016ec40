"""The sidecar: one process per (user, host, store) that does everything slow for the runs."""
