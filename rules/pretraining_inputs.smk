# Input functions, targets and settings of Sec. 3.3, pre-training and transfer (Tables 8-11): rules/pretraining.smk
# uses them.


def pt_space_lists(space):
    """The class lists of a label space with their label offsets: [(name, offset), ...]."""
    out, offset = [], 0
    for name in PT["label_spaces"][space]:
        out.append((name, offset))
        offset += len(CLASS_LISTS[name]["classnames"])
    return out


def pt_n_classes(space):
    return sum(len(CLASS_LISTS[n]["classnames"]) for n in PT["label_spaces"][space])


def pt_per_class(space, amount):
    return pt_per_class_count(PT["amounts"][amount], pt_n_classes(space))


def pt_cells(table):
    """(space, amount, init) of every cell of a table; space 'none' = no synthetic pre-training."""
    t = PT_TABLES[table]
    return [
        (row["data"], "0" if row["data"] == "none" else col, "in1k" if row["in1k"] else "random")
        for row in t["rows"]
        for col in row["columns"]
    ]


def pt_max_per_class(name):
    """The most images per class any configured cell needs from class list ``name``."""
    need = [
        pt_per_class(space, amount)
        for t in PT_TABLES
        for space, amount, _ in pt_cells(t)
        if space != "none" and name in PT["label_spaces"][space]
    ]
    return max(need, default=0)


def pt_blocks(name):
    g = PT["generation"]
    return pt_block_ids(
        len(CLASS_LISTS[name]["classnames"]), pt_max_per_class(name), g["classes_per_job"], g["images_per_job"]
    )


def pt_shards(name):
    return [f"{WORK}/pretrain/{name}/shards/{b}.h5" for b in pt_blocks(name)]


def in1k_spec(method, model):
    return PT["in1k_weights"][method][model]  # present: the Snakefile checks every table's keys up front


def in1k_input(method, model, init):
    """The IN-1k weights file as an input (so rule tiny_in1k can build the demo's); timm tags need none."""
    if init != "in1k":
        return []
    spec = in1k_spec(method, model)
    return [] if spec.startswith("timm:") else [spec]


def pretrain_inputs(w):
    shards = [p for name, _ in pt_space_lists(w.space) for p in pt_shards(name)]
    return {"shards": shards, "init": in1k_input(w.ptmethod, w.ptmodel, w.init)}


def pretrain_settings(method, model):
    if method == "mocov2":
        return PT["mocov2"]
    return PT["supervised"][model]


def transfer_method(method, space, init):
    """Random weights and no pre-training are the same cell whatever the table's method."""
    return "none" if space == "none" and init == "random" else method


def transfer_result(table, space, amount, init):
    t = PT_TABLES[table]
    method = transfer_method(t["method"], space, init)
    return f"{RESULTS}/transfer/{t['transfer']}/{t['model']}/{method}/{space}/{amount}/{init}.json"


def transfer_inputs(w):
    if w.space != "none":
        return {"backbone": f"{WORK}/pretrain/models/{w.ptmethod}/{w.ptmodel}/{w.space}/{w.amount}/{w.init}.pt"}
    return {"init": in1k_input(w.ptmethod, w.ptmodel, w.init)}


def transfer_init(w):
    """IN-1k weights for a '(None) + IN-1k' cell; pre-trained cells start from their backbone file instead."""
    return in1k_spec(w.ptmethod, w.ptmodel) if w.space == "none" and w.init == "in1k" else None


def pt_table_targets():
    return [f"{RESULTS}/{t}.csv" for t in PT_TABLES]
