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


# ---- Tables 3-7 and Figure 1 from hand-built results: each cell must come from the one result it names ----

def _fs(variant, shots, acc, dataset="euro", seed=1):
    return {"dataset": dataset, "variant": variant, "shots": shots, "split_seed": seed, "metrics": {"acc1": acc}}


def _summary(tmp_path, records):
    from synrec.tables import few_shot_summary

    paths = []
    for i, r in enumerate(records):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(r))
    return few_shot_summary(paths)


def test_table3_orders_columns_by_share_and_keeps_each_level_with_its_accuracy():
    from synrec.tables import table3_rows

    runs = [{"level": "layer4", "share_tuned": 62.5, "metrics": {"acc1": 41.0}},
            {"level": "head", "share_tuned": 0.02, "metrics": {"acc1": 55.0}},
            {"level": "attnpool", "share_tuned": 10.0, "metrics": {"acc1": 48.25}}]
    header, rows = table3_rows({"metrics": {"acc1": 37.5}}, runs)
    assert header == ["Param Tuned (%)", "0", "0.02", "10.00", "62.50"]
    assert rows == [["Tuned down to", "(zero-shot)", "head", "attnpool", "layer4"],
                    ["Acc", "37.50", "55.00", "48.25", "41.00"]]


def test_table4_real_columns_by_count_then_synthetic():
    from synrec.tables import table4_rows

    real = [{"per_class": 4, "metrics": {"acc1": 60.0}}, {"per_class": 1, "metrics": {"acc1": 30.0}}]
    header, rows = table4_rows({"per_class": 10, "metrics": {"acc1": 45.5}}, real)
    assert header == ["Real shot", "1", "4", "Syn (10/class)"] and rows == [["Acc", "30.00", "60.00", "45.50"]]


def test_table5_6_7_cells_come_from_their_own_method_and_shot_count(tmp_path):
    from synrec.tables import table5_rows, table6_rows, table7_rows

    ds = {"name": "euro", "title": "EuroSAT"}
    records = [_fs("mix-B", 4, 50.0), _fs("mix-B", 4, 54.0, seed=2), _fs("mix-RF", 4, 60.0), _fs("mix-RG", 4, 70.0),
               _fs("mix-RG", 1, 11.0), _fs("syn2real-RG", 1, 12.0), _fs("real2syn-RG", 1, 13.0),
               _fs("syn2real-RG", 4, 42.0), _fs("real2syn-RG", 4, 43.0), _fs("mix-B", 4, 99.0, dataset="other"),
               _fs("real-bn-train", 4, 21.0), _fs("real-bn-frozen", 4, 22.0), _fs("syn-bn-train", 4, 23.0),
               _fs("syn-bn-frozen", 4, 24.0)]
    summary = _summary(tmp_path, records)
    assert table5_rows(summary, ds, 4)[1] == [["EuroSAT", 4, "52.00 ± 2.00", "60.00", "70.00"]]
    assert table6_rows(summary, ds, 4)[1] == [["Real", "", "21.00"], ["Real", "yes", "22.00"],
                                              ["Syn", "", "23.00"], ["Syn", "yes", "24.00"]]
    assert table7_rows(summary, ds, [1, 4])[1] == [[1, "12.00", "13.00", "11.00"], [4, "42.00", "43.00", "70.00"]]
    assert table7_rows(summary, ds, [1, 4])[0] == ["M-shot", "Phase-wise syn->real", "Phase-wise real->syn",
                                                   "Mix training"]
    assert table5_rows(summary, ds, 4)[0] == ["Dataset", "Shots", "B", "RF", "RG"]


def test_figure1_rows_per_method_in_shot_order_with_zero_shot_first(tmp_path):
    from synrec.tables import figure1_rows

    records = [_fs("ct-init", 4, 60.0), _fs("ct-init", 1, 40.0), _fs("tip", 1, 45.0), _fs("mix-RG", 1, 50.0),
               _fs("mix-B", 1, 99.0), _fs("coop", 1, 30.0, dataset="other"), _fs("tip-f", 1, 46.0),
               _fs("coop", 1, 31.0)]
    header, rows = figure1_rows(_summary(tmp_path, records), {"euro": 35.0}, [{"name": "euro"}])
    assert header == ["dataset", "method", "shots", "acc1_mean", "acc1_std", "n_seeds"]
    assert [r[:4] for r in rows] == [["euro", "Zero-shot CLIP", 0, "35.00"], ["euro", "CT w. init", 1, "40.00"],
                                     ["euro", "CT w. init", 4, "60.00"], ["euro", "Tip-Adapter", 1, "45.00"],
                                     ["euro", "Tip-Adapter-F", 1, "46.00"], ["euro", "CoOp", 1, "31.00"],
                                     ["euro", "CT w. Syn", 1, "50.00"]]
