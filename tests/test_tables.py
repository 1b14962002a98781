import json

import numpy as np

from synrec.intervals import pack
from synrec.results import load_accuracies, load_results, result_record
from synrec.tables import table1_rows, table2_rows, to_csv, write_table

DS = [{"name": "c10", "title": "CIFAR-10", "task": "o"}, {"name": "euro", "title": "EuroSAT", "task": "si"}]


def rec(acc, correct=None):
    """A result record as the tables read it (``correct``: per-image bits, else none kept)."""
    m = {"acc1": acc}
    if correct is not None:
        m.update(acc1=100.0 * float(np.mean(correct)), n=len(correct), correct=pack(correct))
    return {"metrics": m}


def acc_table():
    acc = {("c10", "RN50", "CLIP"): 70.31, ("c10", "RN50", "LE+CF-SCE"): 80.06,
           ("euro", "RN50", "CLIP"): 37.51, ("euro", "RN50", "LE+CF-SCE"): 55.37,
           ("c10", "ViT", "CLIP"): 90.80, ("c10", "ViT", "LE+CF-SCE"): 92.37,
           ("euro", "ViT", "CLIP"): 47.77, ("euro", "ViT", "LE+CF-SCE"): 59.86}
    return {k: rec(a) for k, a in acc.items()}


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
    header, rows = table2_rows({k: rec(a) for k, a in acc.items()}, DS[1:], "RN50")
    assert header[:4] == ["Dataset", "CLIP", "B-CE", "delta B-CE"] and header[-1] == "delta LE+CF-SCE"
    assert rows == [["EuroSAT", "37.51", "45.64", "+8.13", "48.23", "+10.72", "53.26", "+15.75", "54.94", "+17.43",
                     "54.75", "+17.24", "55.37", "+17.86"]]


def test_results_roundtrip_into_tables(tmp_path):
    config = {"models": {"clip": {"RN50": {"model": "RN50"}}, "text_to_image": {"model": "sd"},
                         "word_to_sentence": {"model": "t5"}}}
    paths = []
    for (ds, bb, v), r in acc_table().items():
        if bb != "RN50":
            continue
        record = result_record(config, ds, bb, v, r["metrics"], n_train=0, seed=0)
        assert record["models"]["clip"] == {"model": "RN50"} and len(record["config_hash"]) == 16
        p = tmp_path / f"{ds}-{v}.json"
        p.write_text(json.dumps(record))
        paths.append(p)
    acc = load_accuracies(paths)
    assert acc[("euro", "RN50", "LE+CF-SCE")] == 55.37 and len(acc) == 4
    header, rows = table1_rows(load_results(paths), DS, ["RN50"], "LE+CF-SCE")
    write_table(tmp_path / "table1.csv", header, rows, "note")
    assert (tmp_path / "table1.csv").read_text() == to_csv(header, rows)
    assert (tmp_path / "table1.csv").read_text().splitlines()[1] == "CIFAR-10,o,70.31,80.06,+9.75"
    assert (tmp_path / "table1.md").read_text().startswith("note\n\n| Dataset | Task |")
    assert not list(tmp_path.glob("*.tmp-*"))


def test_table1_cells_carry_intervals_and_the_gain_a_paired_one():
    """With per-image bits: each accuracy shows its bootstrap interval over the test images, each gain the paired
    interval (narrow where the two runs agree on most images), the Average row an interval over datasets."""
    from synrec.intervals import accuracy_interval, average_interval, delta_interval

    rng = np.random.default_rng(0)
    base = {d: rng.random(n) < p for d, n, p in (("c10", 400, 0.7), ("euro", 300, 0.4))}
    syn = {d: b ^ (rng.random(len(b)) < 0.05) | (rng.random(len(b)) < 0.1) for d, b in base.items()}
    results = {**{(d, "RN50", "CLIP"): rec(0, b) for d, b in base.items()},
               **{(d, "RN50", "LE+CF-SCE"): rec(0, b) for d, b in syn.items()}}
    _, rows = table1_rows(results, DS, ["RN50"], "LE+CF-SCE")
    lo, hi = accuracy_interval(base["c10"])
    assert rows[0][2] == f"{100 * base['c10'].mean():.2f} [{lo:.2f}, {hi:.2f}]"
    dlo, dhi = delta_interval(syn["euro"], base["euro"])
    gain = 100 * (syn["euro"].mean() - base["euro"].mean())
    assert rows[1][4] == f"{gain:+.2f} [{dlo:+.2f}, {dhi:+.2f}]" and 0 < dlo < gain < dhi
    alo, ahi = average_interval([syn["c10"], syn["euro"]], baselines=[base["c10"], base["euro"]])
    assert rows[2][4].endswith(f" [{alo:+.2f}, {ahi:+.2f}]")
    # the same runs scored on different test sets are not paired: the gain then shows no interval
    results[("euro", "RN50", "CLIP")] = rec(0, base["euro"][:-1])
    assert "[" not in table1_rows(results, DS, ["RN50"], "LE+CF-SCE")[1][1][4]


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
               _fs("coop", 1, 31.0), _fs("clip-lora", 1, 52.0), _fs("clip-lora-RG", 1, 55.0),
               _fs("clip-lora-DD", 1, 57.0), _fs("clip-lora-DISEF", 1, 58.0)]
    header, rows = figure1_rows(_summary(tmp_path, records), {"euro": rec(35.0)}, [{"name": "euro"}])
    assert header == ["dataset", "method", "shots", "acc1_mean", "acc1_std", "n_seeds", "acc1_ci95_lo",
                      "acc1_ci95_hi"]
    assert [r[:4] for r in rows] == [["euro", "Zero-shot CLIP", 0, "35.00"], ["euro", "CT w. init", 1, "40.00"],
                                     ["euro", "CT w. init", 4, "60.00"], ["euro", "Tip-Adapter", 1, "45.00"],
                                     ["euro", "Tip-Adapter-F", 1, "46.00"], ["euro", "CoOp", 1, "31.00"],
                                     ["euro", "CT w. Syn", 1, "50.00"], ["euro", "CLIP-LoRA", 1, "52.00"],
                                     ["euro", "CLIP-LoRA w. Syn", 1, "55.00"], ["euro", "DataDream", 1, "57.00"],
                                     ["euro", "DISEF", 1, "58.00"]]


def test_strategies_table_has_every_method_per_shot_count_with_its_budget_and_own_hours(tmp_path):
    from synrec.tables import strategies_rows

    methods = ["ct-init", "tip-f", "coop", "clip-lora", "mix-RG", "clip-lora-RG", "clip-lora-DD"]
    records = [_fs(m, k, 10.0 * i + k, seed=s) for i, m in enumerate(methods) for k in (1, 4) for s in (1, 2)]
    records += [_fs("clip-lora", 4, 99.0, dataset="other")]
    hours = {("clip-lora", "euro", 4): "0.5 (cuda)", ("mix-RG", "euro", 1): "2 (cuda)"}
    used = {("euro", "clip-lora-DD", 4): 312.5}  # what a filter kept of DataDream's 500, say
    header, rows = strategies_rows(_summary(tmp_path, records), {"euro": rec(35.0)},
                                   [{"name": "euro", "title": "EuroSAT"}], methods, [1, 4],
                                   {"mix-RG": 800, "clip-lora-RG": 800, "clip-lora-DD": 500}, hours, used)
    assert header == ["Dataset", "Shots", "Method", "Top-1 (%)", "Real img/class", "Synthetic img/class",
                      "Own device-hours", "Synthetic used/class"]
    assert rows[0] == ["EuroSAT", 0, "Zero-shot CLIP", "35.00", 0, 0, "-", 0]
    assert [r[1:3] for r in rows[1:8]] == [[1, "CT w. init"], [1, "Tip-Adapter-F"], [1, "CoOp"], [1, "CLIP-LoRA"],
                                           [1, "CT w. Syn"], [1, "CLIP-LoRA w. Syn"], [1, "DataDream"]]
    assert rows[8][1:3] == [4, "CT w. init"] and len(rows) == 1 + 2 * 7
    by = {(r[1], r[2]): r for r in rows}
    assert by[(4, "CLIP-LoRA")][3:] == ["34.00 ± 0.00", 4, 0, "0.5 (cuda)", 0]
    assert by[(1, "CT w. Syn")][3:] == ["41.00 ± 0.00", 1, 800, "2 (cuda)", 800]  # nothing recorded: the budget
    assert by[(1, "CLIP-LoRA w. Syn")][5:] == [800, "/", 800]  # no benchmark: no hours
    assert by[(4, "DataDream")][3:6] == ["64.00 ± 0.00", 4, 500] and by[(4, "DataDream")][7] == "312"
    assert by[(1, "DataDream")][7] == 500


def test_synthetic_used_is_the_kept_images_per_class_averaged_over_seeds(tmp_path):
    from synrec.tables import synthetic_used

    records = [{"dataset": "euro", "variant": "clip-lora-DISEF", "shots": 4, "classnames": ["a", "b", "c", "d"],
                "synthetic": {"images": n}} for n in (15, 11)]
    records += [{"dataset": "euro", "variant": "ct-init", "shots": 4, "classnames": ["a"]}]  # no synthetic data
    paths = []
    for i, r in enumerate(records):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(r))
    assert synthetic_used(paths) == {("euro", "clip-lora-DISEF", 4): (15 / 4 + 11 / 4) / 2}


def test_few_shot_cells_and_figure1_carry_the_interval_over_seeds_and_images(tmp_path):
    from synrec.intervals import accuracy_interval
    from synrec.tables import figure1_rows, table5_rows

    rng = np.random.default_rng(1)
    runs = {m: [rng.random(200) < p for p in ps] for m, ps in
            (("mix-B", (0.5, 0.6)), ("mix-RF", (0.55, 0.55)), ("mix-RG", (0.7, 0.72)))}
    records = [{**_fs(m, 4, 0, seed=s + 1), **rec(0, c)} for m, cs in runs.items() for s, c in enumerate(cs)]
    summary = _summary(tmp_path, records)
    lo, hi = accuracy_interval(np.stack(runs["mix-RG"]))
    mean = 100 * np.mean([c.mean() for c in runs["mix-RG"]])
    std = 100 * np.std([c.mean() for c in runs["mix-RG"]])
    assert table5_rows(summary, {"name": "euro", "title": "EuroSAT"}, 4)[1][0][4] == \
        f"{mean:.2f} ± {std:.2f} [{lo:.2f}, {hi:.2f}]"
    zero_bits = rng.random(200) < 0.3
    zero = rec(0, zero_bits)
    zero["metrics"]["acc1_ci95"] = list(accuracy_interval(zero_bits))  # as metrics_from_logits records it
    _, rows = figure1_rows(summary, {"euro": zero}, [{"name": "euro"}])
    assert rows[0][6:] == [f"{zero['metrics']['acc1_ci95'][0]:.2f}", f"{zero['metrics']['acc1_ci95'][1]:.2f}"]
    assert rows[1][1] == "CT w. Syn" and rows[1][6:] == [f"{lo:.2f}", f"{hi:.2f}"]
    from PIL import Image

    from synrec.plots import plot_figure1

    plot_figure1(summary, {"euro": zero}, [{"name": "euro", "title": "EuroSAT"}], tmp_path / "f1.png")
    with Image.open(tmp_path / "f1.png") as im:
        assert im.format == "PNG"


def test_generator_runs_are_named_after_the_prompt_strategy_and_the_default_keeps_its_name():
    from synrec.tables import generator_variant

    assert generator_variant("LE+CF-SCE", "sdxl") == "LE@sdxl+CF-SCE"
    assert generator_variant("B-CE", "flux_dev") == "B@flux_dev-CE"
    assert generator_variant("LE+CF-SCE", None) == "LE+CF-SCE"


def test_generators_table_has_a_column_group_per_generator_with_paired_gains_and_cost(tmp_path):
    from synrec.plots import plot_generators
    from synrec.tables import generators_rows

    rng = np.random.default_rng(0)
    base = {d: rng.random(200) < 0.5 for d in ("c10", "euro")}
    # on c10 the default generator fixes 30 mistakes and sdxl breaks 20 right answers; euro unchanged
    better, worse = base["c10"].copy(), base["c10"].copy()
    better[np.flatnonzero(~better)[:30]] = True
    worse[np.flatnonzero(worse)[:20]] = False
    results = {("c10", "CLIP"): rec(0, base["c10"]), ("c10", "LE+CF-SCE"): rec(0, better),
               ("c10", "LE@sdxl+CF-SCE"): rec(0, worse), ("euro", "CLIP"): rec(0, base["euro"]),
               ("euro", "LE+CF-SCE"): rec(0, base["euro"]), ("euro", "LE@sdxl+CF-SCE"): rec(0, base["euro"])}
    gens = [(None, "SD v1-4"), ("sdxl", "SDXL")]
    header, rows = generators_rows(results, DS, gens, "LE+CF-SCE", {(None, "c10"): "0.5 (cuda)",
                                                                     (None, None): "0.4 (cuda)"})
    assert header == ["Dataset", "CLIP", "+SYN SD v1-4", "delta SD v1-4", "h/1k img SD v1-4", "+SYN SDXL",
                      "delta SDXL", "h/1k img SDXL"]
    assert [r[0] for r in rows] == ["CIFAR-10", "EuroSAT", "Average"]
    c10 = rows[0]
    assert c10[3].startswith("+15.00 [") and c10[6].startswith("-10.00 [")  # 30 / 200 and 20 / 200, paired
    assert float(c10[3].split("[")[1].split(",")[0]) > 0 > float(c10[6].split(", ")[1].rstrip("]"))
    assert rows[1][3].startswith("+0.00") and c10[4] == "0.5 (cuda)" and c10[7] == "/"
    assert rows[2][3].startswith("+7.50") and rows[2][4] == "0.4 (cuda)"  # the Average of the gains; all hours
    plot_generators(results, DS, gens, "LE+CF-SCE", tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"


def test_a_generator_runs_record_names_that_generator_not_the_default():
    config = {"models": {"clip": {"RN50": {"model": "RN50"}}, "text_to_image": {"model": "sd"},
                         "word_to_sentence": {"model": "t5"}},
              "generators": {"sdxl": {"model": "org/sdxl", "generation": {"height": 1024}}}}
    assert result_record(config, "c10", "RN50", "LE@sdxl+CF-SCE", {}, 0, 0)["models"]["text_to_image"]["model"] \
        == "org/sdxl"
    assert result_record(config, "c10", "RN50", "LE+CF-SCE", {}, 0, 0)["models"]["text_to_image"] == {"model": "sd"}
