"""A short training-like loop: log scalars and nested dicts, define a metric, finish, read back.

Run it with the README's first command. It uses a store and run folder under
``./quickstart-data`` unless TRACKER_STORE / TRACKER_DIR say otherwise.
"""

import math
import os
import random

here = os.path.abspath("quickstart-data")
os.environ.setdefault("TRACKER_STORE", os.path.join(here, "store"))
os.environ.setdefault("TRACKER_DIR", here)

import tracker  # noqa: E402

config = {"lr": 3e-4, "batch_size": 64, "epochs": 3, "model": {"layers": 4, "width": 256}}
run = tracker.init(project="quickstart", config=config, tags=["demo"], notes="README example")
run.define_metric("val/*", step_metric="epoch")
run.define_metric("train/loss", summary="min,last")
run.define_metric("val/acc", summary="max", goal="maximize")

steps_per_epoch = 2000
for epoch in range(config["epochs"]):
    for i in range(steps_per_epoch):
        step = epoch * steps_per_epoch + i
        loss = 2.0 * math.exp(-step / 2500) + random.random() * 0.05
        run.log(
            {
                "train/loss": loss,
                "train": {"grad_norm": 1.0 / (1 + step) ** 0.5, "lr": config["lr"]},
            }
        )
    val_acc = 0.6 + 0.1 * epoch + random.random() * 0.01
    run.log({"epoch": epoch, "val/acc": val_acc, "val/loss": loss * 1.1})
    if val_acc > 0.7:
        run.alert("val/acc above 0.7", f"epoch {epoch}: val/acc = {val_acc:.3f}", level="INFO")
    with open(os.path.join(here, "checkpoint.txt"), "w") as fh:  # stands in for a model file
        fh.write(f"epoch {epoch} weights\n")
    if epoch == 0:
        run.save(os.path.join(here, "checkpoint.txt"), base_path=here, policy="live")
run.summary["notes_for_later"] = "best run so far"
run.finish()

api = tracker.Api()
back = api.run(run.path)
print(f"\nread back {'/'.join(back.path)}: state={back.state}, last step={back.lastHistoryStep}")
print("summary:")
for key in sorted(k for k in back.summary if not k.startswith("_")):
    print(f"  {key}: {back.summary[key]}")
print("files:", ", ".join(f"{f.name} ({f.size} B)" for f in back.files()))
print(
    "checkpoint.txt in the store:",
    back.file("checkpoint.txt").download(root=here, replace=True).read().strip(),
)
print("alerts:")
for a in back.alerts():
    print(f"  [{a['level']}] {a['title']}: {a['text']} ({a['outcome']})")
print("last rows:")
print(back.history(samples=100_000).tail(3).to_string())
