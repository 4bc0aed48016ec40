"""Media end to end through the real sidecar (§10): what is logged reads back the same."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import tracker


def _run(project: str = "media"):
    return tracker.init(project=project)


def _read(run):
    return tracker.Api().run(run.path)


def test_images_decode_to_the_logged_pixels(tmp_path):
    run = _run()
    rgb = np.random.default_rng(0).integers(0, 256, (16, 20, 3), dtype=np.uint8)
    gray = np.random.default_rng(1).random((8, 9))
    rgba = np.random.default_rng(2).integers(0, 256, (5, 6, 4), dtype=np.uint8)
    run.log({"rgb": tracker.Image(rgb, caption="noise"), "gray": tracker.Image(gray), "loss": 1.0})
    run.log({"rgb": tracker.Image(rgb[::-1].copy()), "rgba": tracker.Image(rgba)})
    run.finish()
    api_run = _read(run)
    first, second = api_run.media("rgb")
    assert (first.step, second.step) == (0, 1)
    assert first.caption == "noise" and first.type == "image-file"
    assert first.path.startswith("media/images/rgb_0_") and first.path.endswith(".png")
    assert np.array_equal(first.to_numpy(), rgb)
    assert np.array_equal(second.to_numpy(), rgb[::-1])
    assert np.array_equal(
        api_run.media("gray")[0].to_numpy(), (gray * 255).round().astype(np.uint8)
    )
    assert np.array_equal(api_run.media("rgba")[0].to_numpy(), rgba)
    assert [m.step for m in api_run.media("rgb", step=1)] == [1]
    # the history cell is the typed reference, and the file is one of the run's files
    row = next(api_run.scan_history(keys=["rgb"]))
    ref = row["rgb"]
    assert ref["_type"] == "image-file" and ref["width"] == 20 and ref["height"] == 16
    assert ref["format"] == "png" and len(ref["sha256"]) == 64 and ref["sha256"][:8] in ref["path"]
    f = api_run.file(first.path)
    assert f is not None and f.size == ref["size"]
    local = first.download(str(tmp_path / "dl"))
    assert local.endswith(first.path)
    with open(local, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    assert api_run.summary_metrics["rgb"]["_type"] == "image-file"


def test_a_list_of_images_under_one_key_and_torch_chw():
    run = _run()
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.full((4, 4, 3), 200, np.uint8)
    chw = torch.rand(3, 5, 7)
    run.log({"batch": [tracker.Image(a), tracker.Image(b)], "t": tracker.Image(chw)})
    run.finish()
    api_run = _read(run)
    got = api_run.media("batch")
    assert len(got) == 2 and np.array_equal(got[1].to_numpy(), b)
    pixels = api_run.media("t")[0].to_numpy()
    expect = (chw.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    assert pixels.shape == (5, 7, 3) and np.array_equal(pixels, expect)


def test_histograms_equal_numpys():
    run = _run()
    values = np.random.default_rng(3).normal(size=10_000)
    counts, edges = np.histogram(values, bins=20)
    run.log(
        {
            "seq": tracker.Histogram(values, num_bins=20),
            "np": tracker.Histogram(np_histogram=(counts, edges)),
            "auto": values[:1000],
            "tensor": torch.arange(100, dtype=torch.float32),
        }
    )
    run.finish()
    api_run = _read(run)
    seq = api_run.media("seq")[0]
    assert seq.values == counts.tolist() and np.allclose(seq.bins, edges)
    assert api_run.media("np")[0].values == counts.tolist()
    auto = api_run.media("auto")[0]
    c64, e64 = np.histogram(values[:1000], bins=64)
    assert auto.values == c64.tolist() and np.allclose(auto.bins, e64)
    t = api_run.media("tensor")[0]
    assert len(t.values) == 64 and sum(t.values) == 100 and t.bins[0] == 0.0 and t.bins[-1] == 99.0
    # no file for a histogram: bins and counts are inline
    assert not [f for f in api_run.files() if f.name.startswith("media/")]


def test_tables_read_back_equal_to_their_dataframe():
    run = _run()
    table = tracker.Table(columns=["id", "name", "score"], data=[[1, "a", 0.5], [2, "b", 1.5]])
    table.add_data(3, "c", 2.5)
    table.add_column("ok", [True, False, True])
    df = pd.DataFrame(
        {"x": np.arange(5, dtype=np.int32), "y": np.linspace(0, 1, 5), "s": list("vwxyz")}
    )
    run.log({"rows": table, "frame": tracker.Table(dataframe=df)})
    run.finish()
    api_run = _read(run)
    got = api_run.media("rows")[0].get_dataframe()
    pd.testing.assert_frame_equal(got, table.get_dataframe())
    assert str(got["id"].dtype) == "int64" and str(got["ok"].dtype) == "bool"
    pd.testing.assert_frame_equal(api_run.media("frame")[0].get_dataframe(), df)
    ref = next(api_run.scan_history(keys=["rows"]))["rows"]
    assert ref["_type"] == "table-file" and ref["nrows"] == 3 and ref["path"].endswith(".parquet")


def test_a_gif_has_the_logged_number_of_frames():
    run = _run()
    frames = np.stack([np.full((3, 8, 10), i * 20, np.uint8) for i in range(7)])
    run.log({"clip": tracker.Video(frames, fps=5, caption="seven")})
    run.finish()
    clip = _read(run).media("clip")[0]
    assert clip.type == "video-file" and clip.path.endswith(".gif") and clip.caption == "seven"
    decoded = clip.to_numpy()
    assert decoded.shape == (7, 8, 10, 3)
    assert [int(f[0, 0, 0]) for f in decoded] == [i * 20 for i in range(7)]


def test_plots_store_a_table_and_a_chart():
    run = _run()
    table = tracker.Table(columns=["x", "y"], data=[[i, i * i] for i in range(5)])
    y_true = np.array([0, 1, 2, 2, 1, 0])
    preds = np.array([0, 2, 2, 2, 1, 1])
    probs = np.eye(3)[preds] * 0.8 + 0.2 / 3
    run.log(
        {
            "line": tracker.plot.line(table, "x", "y", title="squares"),
            "custom": tracker.plot_table("my-chart", table, {"a": "x"}, {"title": "t"}),
            "cm": tracker.plot.confusion_matrix(
                y_true=y_true, preds=preds, class_names=list("abc")
            ),
            "roc": tracker.plot.roc_curve(y_true, probs),
            "pr": tracker.plot.pr_curve(y_true, probs, labels=list("abc")),
        }
    )
    run.finish()
    api_run = _read(run)
    line = api_run.media("line")[0]
    assert line.chart == {
        "kind": "line",
        "fields": {"x": "x", "y": "y", "stroke": None},
        "title": "squares",
    }
    assert line.get_dataframe()["y"].tolist() == [0, 1, 4, 9, 16]
    assert api_run.media("custom")[0].chart["kind"] == "my-chart"
    cm = api_run.media("cm")[0].get_dataframe()
    cells = {(r.Actual, r.Predicted): r.nPredictions for r in cm.itertuples()}
    assert cells[("a", "a")] == 1 and cells[("a", "b")] == 1 and cells[("b", "c")] == 1
    assert cells[("c", "c")] == 2 and sum(cells.values()) == 6
    roc = api_run.media("roc")[0]
    assert json.loads(json.dumps(roc.chart))["kind"] == "roc_curve"
    df = roc.get_dataframe()
    assert set(df["class"]) == {"0", "1", "2"} and df["tpr"].max() == 1.0
    pr = api_run.media("pr")[0].get_dataframe()
    assert set(pr["class"]) == {"a", "b", "c"} and list(pr.columns) == [
        "class",
        "recall",
        "precision",
    ]


def test_html_and_point_clouds_are_files():
    run = _run()
    points = np.random.default_rng(4).random((50, 3))
    run.log({"page": tracker.Html("<b>hi</b>"), "cloud": tracker.Object3D(points)})
    run.finish()
    api_run = _read(run)
    page = api_run.media("page")[0]
    assert page.type == "html-file" and page.path.endswith(".html")
    cloud = api_run.media("cloud")[0]
    assert cloud.type == "object3D-file"
    with open(cloud.download(str(run.dir) + "/dl")) as fh:
        assert np.allclose(json.load(fh), points)


@pytest.mark.parametrize(
    "value, words",
    [
        (lambda: tracker.Image(np.zeros((2, 2, 2, 2, 3), np.uint8)), "5-D"),
        (lambda: tracker.Image(np.zeros((4, 4, 3), np.complex64)), "dtype"),
        (lambda: tracker.Image(np.zeros((4, 4, 2), np.uint8)), "channels"),
        (lambda: tracker.Video(np.zeros((4, 4, 3), np.uint8)), "T×C×H×W"),
        (lambda: tracker.Table(columns=["a", "b"], data=[[1, 2], [3]]), "row 1"),
        (lambda: tracker.Table(columns=["a"], data=[[object()]]), "cell (0, 0)"),
        (lambda: tracker.Object3D(np.zeros((5, 2))), "N×3"),
    ],
)
def test_a_bad_media_value_names_the_key_and_sends_nothing(value, words):
    run = _run()
    with pytest.raises(ValueError) as err:
        run.log({"bad_key": value(), "x": 1})
    assert "'bad_key'" in str(err.value) and words in str(err.value)
    run.log({"x": 2})
    run.finish()
    rows = list(_read(run).scan_history())
    assert [r["x"] for r in rows] == [2]


def test_an_offline_run_synced_later_has_its_media(tracker_env):
    from tracker.service.sync import sync_run_dir

    run = tracker.init(project="media", mode="offline")
    pixels = np.random.default_rng(5).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    run.log({"pic": tracker.Image(pixels), "t": tracker.Table(columns=["a"], data=[[1], [2]])})
    run.finish()
    result = sync_run_dir(run.sync_dir, tracker_env["store"])
    assert result.status == "synced", result.message
    api_run = tracker.Api().run(run.path)
    assert np.array_equal(api_run.media("pic")[0].to_numpy(), pixels)
    assert api_run.media("t")[0].get_dataframe()["a"].tolist() == [1, 2]


def test_an_mp4_has_the_logged_frames():
    run = _run()
    frames = np.stack([np.full((3, 16, 16), i * 30, np.uint8) for i in range(6)])
    run.log({"movie": tracker.Video(frames, fps=4, format="mp4")})
    run.finish()
    movie = _read(run).media("movie")[0]
    assert movie.path.endswith(".mp4") and movie.ref["frames"] == 6
    decoded = movie.to_numpy()
    assert decoded.shape == (6, 16, 16, 3)
    assert [abs(int(f.mean()) - i * 30) <= 3 for i, f in enumerate(decoded)] == [True] * 6


def test_a_matplotlib_figure_is_logged_as_an_image():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=50)
    ax.plot([0, 1, 2], [1, 0, 1])
    run = _run()
    run.log({"fig": tracker.Image(fig)})
    run.finish()
    plt.close(fig)
    pixels = _read(run).media("fig")[0].to_numpy()
    assert pixels.shape == (75, 100, 4) and pixels.std() > 0


def test_images_in_table_cells_and_boxes_and_masks_read_back():
    run = _run()
    rng = np.random.default_rng(5)
    a, b = (rng.integers(0, 256, (6, 8, 3), dtype=np.uint8) for _ in range(2))
    mask = rng.integers(0, 3, (6, 8)).astype(np.int64)
    boxes = {
        "predictions": {
            "box_data": [
                {
                    "position": {"minX": 0.1, "maxX": 0.5, "minY": 0.2, "maxY": 0.6},
                    "class_id": 1,
                    "box_caption": "cat",
                    "scores": {"acc": np.float32(0.5)},
                },
                {
                    "position": {"middle": [4, 3], "width": 2, "height": 2},
                    "class_id": 2,
                    "domain": "pixel",
                },
            ],
            "class_labels": {1: "cat", 2: "dog"},
        }
    }
    masks = {"truth": {"mask_data": mask, "class_labels": {0: "bg", 1: "cat", 2: "dog"}}}
    table = tracker.Table(columns=["id", "image"], data=[[1, tracker.Image(a, caption="a")]])
    table.add_data(2, tracker.Image(b))
    frame = pd.DataFrame({"n": [7], "img": [tracker.Image(b)]})
    run.log(
        {
            "seg": tracker.Image(a, boxes=boxes, masks=masks, classes=[{"id": 1, "name": "cat"}]),
            "samples": table,
            "frame": tracker.Table(dataframe=frame),
        }
    )
    assert isinstance(table.data[0][1], tracker.Image)  # the table keeps its own cells
    run.finish()
    api_run = _read(run)
    seg = api_run.media("seg")[0]
    assert np.array_equal(seg.to_numpy(), a)
    got = seg.boxes["predictions"]
    assert got["class_labels"] == {1: "cat", 2: "dog"}
    assert got["box_data"][0] == {
        "position": {"minX": 0.1, "maxX": 0.5, "minY": 0.2, "maxY": 0.6},
        "class_id": 1,
        "box_caption": "cat",
        "scores": {"acc": 0.5},
    }
    assert got["box_data"][1]["position"] == {"middle": [4, 3], "width": 2, "height": 2}
    assert seg.classes == [{"id": 1, "name": "cat"}]
    truth = seg.masks["truth"]
    assert truth.path.startswith("media/images/mask/seg_0_") and truth.type == "mask"
    assert np.array_equal(truth.to_numpy(), mask) and truth.ref["class_labels"][2] == "dog"
    df = api_run.media("samples")[0].get_dataframe()
    assert df["id"].tolist() == [1, 2]
    first, second = df["image"]
    assert first.type == "image-file" and first.caption == "a" and first.step == 0
    assert np.array_equal(first.to_numpy(), a) and np.array_equal(second.to_numpy(), b)
    cell = api_run.media("frame")[0].get_dataframe()["img"][0]
    assert np.array_equal(cell.to_numpy(), b)
    names = {f.name for f in api_run.files()}
    assert {first.path, second.path, cell.path, truth.path} <= names
