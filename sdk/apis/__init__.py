"""``tracker.apis``: W&B's module path to the read side (``wandb.apis.public.Run``)."""
