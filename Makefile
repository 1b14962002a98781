# The two commands of the README:  `make demo`  and  `make test`.  Both create the pinned environment first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.synrec-installed

.PHONY: demo test env lint dry-run bench clean-demo slurm-profile

env: $(STAMP)

# Re-created when the pins change. pip takes torch/torchvision from local wheels where the machine has them.
$(STAMP): envs/requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "synrec: installing the pinned environment into $(VENV) (a few minutes the first time; log: $(VENV)/pip.log)"
	@$(BIN)/python -m pip install -r envs/requirements.txt > $(VENV)/pip.log 2>&1 \
		|| { tail -n 30 $(VENV)/pip.log; echo "synrec: pip install failed (full log: $(VENV)/pip.log)"; exit 1; }
	@$(BIN)/python -m pip install --no-deps -e . >> $(VENV)/pip.log 2>&1 \
		|| { tail -n 30 $(VENV)/pip.log; echo "synrec: installing synrec failed"; exit 1; }
	@touch $(STAMP)

# The whole chain in miniature: small models trained on drawn shapes, made-up datasets, 2 CPU cores.
demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/snakemake --cores 2 --configfile config/demo.yaml
	@echo; cat results/table1.md; echo
	@echo "synrec demo: results/table1.csv ... table11.csv and figure1.png written (snakemake --report report.html --configfile config/demo.yaml: one page)."
	@echo "A MINIATURE, not the paper's numbers: small models trained briefly on drawn shapes. See README for real runs."

# Two pytest-xdist workers, whole files each, in the order tests/conftest.py sets (TEST_WORKERS=0: one process).
TEST_WORKERS ?= 2
test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# Makes `snakemake --profile slurm` find profiles/slurm (snakemake looks in ~/.config/snakemake, not in profiles/).
# A link, so profiles/slurm/config.yaml stays the one file to edit.
SNAKEMAKE_CONFIG := $(or $(XDG_CONFIG_HOME),$(HOME)/.config)/snakemake
slurm-profile:
	@mkdir -p $(SNAKEMAKE_CONFIG)
	@if [ -e $(SNAKEMAKE_CONFIG)/slurm ] && [ ! -L $(SNAKEMAKE_CONFIG)/slurm ]; then \
		echo "synrec: $(SNAKEMAKE_CONFIG)/slurm exists and is not a link; move it away first"; exit 1; fi
	ln -sfn $(CURDIR)/profiles/slurm $(SNAKEMAKE_CONFIG)/slurm
	@echo "synrec: 'snakemake --profile slurm' now uses $(CURDIR)/profiles/slurm (edit its EDIT block)"

# Style gates (CI runs this before the tests): ruff (pyproject.toml [tool.ruff]), snakefmt, Snakemake's own linter.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check workflow/Snakefile rules/*.smk
	HF_HUB_OFFLINE=1 $(BIN)/snakemake --lint --configfile config/demo.yaml

dry-run: $(STAMP)
	$(BIN)/python bench/dag_dry_run.py

clean-demo:
	rm -rf work/demo results resources logs
