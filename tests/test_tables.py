import json

from synrec.results import load_accuracies, result_record
from synrec.tables import table1_rows, table2_rows, to_csv, write_table

DS = [{"name": "c10", "title": "CIFAR-10", "task": "o"}, {"name": "euro", "title": "EuroSAT", "task": "si"}]


def acc_table():
    acc = {("c10", "RN50", "CLIP"): 70.31, ("c10", "RN50", "LE+CF-SCE"): 80.06,
           ("euro", "RN50", "CLIP"): 37.51, ("euro", "RN50", "LE+CF-SCE"): 55.37,
           ("c10", "ViT", "CLIP"): 90.80, ("c10", "ViT", "LE+CF-SCE"): 92.37,
           ("euro", "ViT", "CLIP"): 47.77, ("euro", "ViT", "LE+CF-SCE"): 59.86}
    return acc


def test_table1_shape_deltas_and_average():
    header, rows = table1_rows(acc_table(), DS, ["RN50", "ViT"], "LE+CF-SCE")
    assert header == ["Dataset", "Task", "CLIP-RN50", "CLIP-RN50+SYN", "delta RN50", "CLIP-ViT", "CLIP-ViT+SYN",
                      "delta ViT"]
    assert rows[0] == ["CIFAR-10", "o", "70.31", "80.06", "+9.75", "90.80", "92.37", "+1.57"]
    assert rows[1][:5] == ["EuroSAT", "si", "37.51", "55.37", "+17.86"]
    # Average of (70.31, 37.51) = 53.91, of (80.06, 55.37) = 67.715; delta 13.805 (float: 13.8050...01)
    assert rows[2] == ["Average", "/", "53.91", "67.72", "+13.81", "69.28", "76.12", "+6.83"]


def test_table2_columns_and_deltas():
    acc = {("euro", "RN50", v): a for v, a in [("CLIP", 37.51), ("B-CE", 45.64), ("B-SCE", 48.23), ("LE-CE", 53.26),
                                               ("LE-SCE", 54.94), ("LE+CF-CE", 54.75), ("LE+CF-SCE", 55.37)]}
    header, rows = table2_rows(acc, DS[1:], "RN50")
    assert header[:4] == ["Dataset", "CLIP", "B-CE", "delta B-CE"] and header[-1] == "delta LE+CF-SCE"
    assert rows == [["EuroSAT", "37.51", "45.64", "+8.13", "48.23", "+10.72", "53.26", "+15.75", "54.94", "+17.43",
                     "54.75", "+17.24", "55.37", "+17.86"]]


def test_results_roundtrip_into_tables(tmp_path):
    config = {"models": {"clip": {"RN50": {"model": "RN50"}}, "text_to_image": {"model": "sd"},
                         "word_to_sentence": {"model": "t5"}}}
    paths = []
    for (ds, bb, v), a in acc_table().items():
        if bb != "RN50":
            continue
        rec = result_record(config, ds, bb, v, {"acc1": a}, n_train=0, seed=0)
        assert rec["models"]["clip"] == {"model": "RN50"} and len(rec["config_hash"]) == 16
        p = tmp_path / f"{ds}-{v}.json"
        p.write_text(json.dumps(rec))
        paths.append(p)
    acc = load_accuracies(paths)
    assert acc[("euro", "RN50", "LE+CF-SCE")] == 55.37 and len(acc) == 4
    header, rows = table1_rows(acc, DS, ["RN50"], "LE+CF-SCE")
    write_table(tmp_path / "table1.csv", header, rows, "note")
    assert (tmp_path / "table1.csv").read_text() == to_csv(header, rows)
    assert (tmp_path / "table1.csv").read_text().splitlines()[1] == "CIFAR-10,o,70.31,80.06,+9.75"
    assert (tmp_path / "table1.md").read_text().startswith("note\n\n| Dataset | Task |")
    assert not list(tmp_path.glob("*.tmp-*"))


def test_table1_figure_is_a_png(tmp_path):
    from PIL import Image

    from synrec.plots import plot_table1

    plot_table1(acc_table(), DS, ["RN50", "ViT"], "LE+CF-SCE", tmp_path / "t1.png", note="demo")
    with Image.open(tmp_path / "t1.png") as im:
        assert im.format == "PNG" and im.size[0] > im.size[1] > 100
    assert [p.name for p in tmp_path.iterdir()] == ["t1.png"]
