"""Media logic without a sidecar: cells built in the caller, encoders, the row gate (§10)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import tracker
from tracker.media import base
from tracker.service.media_book import MediaBook, media_stage
from tracker.service.media_encode import encode_cell, media_name


def test_import_tracker_imports_no_heavy_library():
    code = (
        "import sys, tracker\n"
        "tracker.Image, tracker.Table, tracker.plot, tracker.Histogram\n"
        "heavy = [m for m in ('numpy', 'pyarrow', 'pandas', 'PIL', 'matplotlib', 'imageio', 'torch')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_missing_extra_names_the_extra_and_the_key(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    monkeypatch.setattr(base, "_FOUND", {})
    run = tracker.init(project="m", mode="disabled")
    with pytest.raises(ImportError) as err:
        run.log({"pic": tracker.Image(np.zeros((4, 4, 3), np.uint8))})
    assert "'pic'" in str(err.value) and "tracker[media]" in str(err.value)
    with pytest.raises(ImportError, match=r"tracker\[media\]"):
        base.need("PIL.Image")
    run.finish()


def test_the_caller_sends_raw_bytes_not_an_encoded_file():
    arr = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    cell = tracker.Image(arr, caption="c").to_log_value("k")
    assert cell["_type"] == "image-raw" and cell["data"] == arr.tobytes()
    assert cell["shape"] == [2, 2, 3] and cell["caption"] == "c"
    hist = tracker.Histogram(np.ones(100)).to_log_value("h")
    assert hist["_type"] == "histogram-raw" and hist["num_bins"] == 64
    counts, edges = np.histogram(np.arange(10), bins=5)
    inline = tracker.Histogram(np_histogram=(counts, edges)).to_log_value("h")
    assert inline == {"_type": "histogram", "values": counts.tolist(), "bins": edges.tolist()}
    assert tracker.Histogram(np.arange(10), num_bins=5).histogram == counts.tolist()


def test_table_editing_and_errors():
    t = tracker.Table(columns=["a", "b"])
    t.add_data(1, "x")
    with pytest.raises(ValueError, match="2 columns"):
        t.add_data(1)
    t.add_column("c", [0.5])
    assert t.get_column("c") == [0.5] and t.columns == ["a", "b", "c"]
    with pytest.raises(ValueError, match="already"):
        t.add_column("a", [1])
    with pytest.raises(ValueError, match="one of them"):
        tracker.Histogram()
    with pytest.raises(ValueError, match="num_bins"):
        tracker.Histogram([1, 2], num_bins=0)


def test_media_names_stay_inside_the_run_files():
    assert (
        media_name("images", "a/b c", 3, "abcdef0123", "png") == "media/images/a/b_c_3_abcdef01.png"
    )
    assert media_name("images", "../../x", 0, "ff" * 8, "png") == "media/images/x_0_ffffffff.png"


def test_encoders_write_files_and_references(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    ref = encode_cell(tracker.Image(arr).to_log_value("k"), str(tmp_path), "k", 7)
    assert (
        ref["path"].startswith("media/images/k_7_")
        and os.path.getsize(tmp_path / ref["path"]) == ref["size"]
    )
    table = tracker.Table(columns=["x"], data=[[1], [2]]).to_log_value("t")
    tref = encode_cell(table, str(tmp_path), "t", 0)
    assert tref["nrows"] == 2 and tref["columns"] == ["x"]
    with pytest.raises(ValueError, match="unknown media type"):
        encode_cell({"_type": "nope-raw"}, str(tmp_path), "k", 0)


def test_the_gate_holds_rows_until_their_media_is_encoded_and_keeps_order(tmp_path):
    out: list[dict] = []
    saved: list[str] = []
    stage = media_stage()
    book = MediaBook(str(tmp_path), out.append, lambda n, p: saved.append(n), lambda t: None, stage)
    img = tracker.Image(np.zeros((4, 4), np.uint8)).to_log_value("img")
    data = {"img": img, "x": 1}
    holders = book.take(data)
    assert holders and data["img"] == {"_type": "image-file", "_pending": True}
    book.on_row({**data, "_step": 0})
    book.on_row({"x": 2, "_step": 1})  # no media, but behind a row that waits
    assert out == [] and not book.idle
    deadline = time.monotonic() + 10
    while not book.idle and time.monotonic() < deadline:
        stage.run_completed()
        time.sleep(0.01)
    stage.stop()
    assert [r["_step"] for r in out] == [0, 1]
    assert out[0]["img"]["_type"] == "image-file" and saved == [out[0]["img"]["path"]]
    # a bad cell becomes an error cell; the row still goes on
    bad = {"_type": "image-raw", "data": b"xx", "shape": [5, 5], "dtype": "|u1"}
    data = {"img": bad}
    book.stage = None
    book.take(data)
    book.on_row({**data, "_step": 2})
    assert out[-1]["img"]["_type"] == "media-error" and book.errors == 1


def test_object3d_reads_an_open_file_its_type_from_the_name_or_file_type(tmp_path):
    import io

    path = tmp_path / "mesh.obj"
    path.write_text("v 0 0 0\n")
    with open(path) as text, open(path, "rb") as binary:
        assert tracker.Object3D(text).to_log_value("k")["encoded"] == b"v 0 0 0\n"
        assert tracker.Object3D(binary).to_log_value("k")["format"] == "obj"
    cell = tracker.Object3D(io.BytesIO(b"glTF"), file_type="glb").to_log_value("k")
    assert (cell["format"], cell["encoded"]) == ("glb", b"glTF")
    with pytest.raises(ValueError, match="file_type"):
        tracker.Object3D(io.BytesIO(b"x"))
    with pytest.warns(DeprecationWarning, match="tracker.plot.pr_curve"):
        chart = tracker.plots.precision_recall([0, 1], [[0.9, 0.1], [0.2, 0.8]], ["a", "b"])
    assert chart.to_log_value("pr")["plot"] == "pr_curve"


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (
            {"boxes": {"p": {"box_data": [{"position": {"minX": 0}, "class_id": 1}]}}},
            "box 0 position",
        ),
        (
            {
                "boxes": {
                    "p": {"box_data": [{"position": {"minX": 0, "maxX": 1, "minY": 0, "maxY": 1}}]}
                }
            },
            "class_id",
        ),
        ({"boxes": {"p": {"box_data": []}, "q": {}}}, "box_data"),
        ({"boxes": {"p": {"box_data": [], "class_labels": {"cat": 1}}}}, "class_labels key"),
        ({"masks": {"m": {"mask_data": np.zeros((2, 2, 3), np.uint8)}}}, "H×W"),
        ({"masks": {"m": {"mask_data": np.full((2, 2), 0.5)}}}, "integer"),
        ({"masks": {"m": {"mask_data": np.full((2, 2), 300)}}}, "0..255"),
        ({"classes": [{"name": "x"}]}, "classes[0] id"),
    ],
)
def test_bad_boxes_and_masks_name_the_key(kwargs, words):
    image = tracker.Image(np.zeros((2, 2, 3), np.uint8), **kwargs)
    with pytest.raises(ValueError, match="'seg'") as err:
        image.to_log_value("seg")
    assert words in str(err.value)
    with pytest.raises(ValueError, match="cell \\(0, 0\\) is a Table"):
        tracker.Table(columns=["t"], data=[[tracker.Table(columns=["x"])]]).to_log_value("k")


def test_large_arrays_are_spliced_into_the_record_as_ordinary_msgpack():
    from tracker.proto.messages import decode, encode_log

    big = np.arange(50_000, dtype=np.float64)  # 400 KB: a Blob, copied once into the record
    img = np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8)
    hist = tracker.Histogram(big)
    big[0] = -1.0  # the histogram kept its own copy at construction
    data = {"h": hist.to_log_value("h"), "x": 1.5, "i": tracker.Image(img).to_log_value("i")}
    assert (
        isinstance(data["h"]["data"], base.Blob)
        and data["h"]["data"] == np.arange(50_000.0).tobytes()
    )
    msg = decode(encode_log(1, 2, None, True, 0.0, data))
    assert msg.data["h"]["data"] == np.arange(50_000.0).tobytes()
    assert msg.data["i"]["data"] == img.tobytes() and msg.data["x"] == 1.5
    assert hist.histogram == np.histogram(np.arange(50_000.0), bins=64)[0].tolist()


def test_png_written_here_decodes_to_the_pixels_in_every_mode(tmp_path):
    from PIL import Image as PILImage

    rng = np.random.default_rng(3)
    for shape in ((7, 5), (7, 5, 1), (7, 5, 3), (7, 5, 4)):
        arr = rng.integers(0, 256, shape, dtype=np.uint8)
        ref = encode_cell(tracker.Image(arr).to_log_value("k"), str(tmp_path), "k", 0)
        expected = arr[:, :, 0] if shape[2:] == (1,) else arr
        with PILImage.open(tmp_path / ref["path"]) as img:
            assert np.array_equal(np.array(img), expected)
    rgb = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    ref = encode_cell(tracker.Image(rgb, mode="L").to_log_value("k"), str(tmp_path), "k", 1)
    with PILImage.open(tmp_path / ref["path"]) as img:
        assert img.mode == "L" and img.size == (4, 4)


def test_a_sparse_column_of_media_references_keeps_every_field_and_its_nulls():
    from tracker.service.export import build_table

    refs = {
        3: {"_type": "image-file", "path": "a.png", "width": 2},
        7: {"_type": "image-file", "path": "b.png", "sha256": "x"},
    }
    rows = [{"_step": i, "img": refs.get(i)} for i in range(10)]
    table = build_table(rows)
    got = table.column("img").to_pylist()
    assert [g is None for g in got] == [i not in refs for i in range(10)]
    assert {k: v for k, v in got[3].items() if v is not None} == refs[3]
    assert {k: v for k, v in got[7].items() if v is not None} == refs[7]
    # a column that turns from references into numbers is kept as JSON, each value its own type
    mixed = build_table(
        [{"_step": 0, "m": None}, {"_step": 1, "m": {"a": 1}}, {"_step": 2, "m": 5}]
    )
    assert mixed.column("m").to_pylist() == [None, '{"a": 1}', "5"]
