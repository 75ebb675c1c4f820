# kpi766 — one command each: `make report`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export KPI_STORE ?= $(CURDIR)/data/processed/kpi.duckdb
SAMPLE_SEED ?= 766
PERIOD ?=

.PHONY: setup sample load report publish test bench clean lab

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

sample: $(STAMP)
	@if [ -n "$$(ls -A data/raw | grep -v '^\.gitkeep$$')" ]; then echo "data/raw/ đã có dữ liệu — không tạo tỉnh mẫu."; \
	else $(BIN)/kpi sample --out data/raw --seed $(SAMPLE_SEED); fi

load: sample
	$(BIN)/kpi load data/raw

report: load
	$(BIN)/kpi status
	$(BIN)/kpi report monthly $(if $(PERIOD),--period $(PERIOD),)
	$(BIN)/kpi publish $(if $(PERIOD),--period $(PERIOD),)

test: $(STAMP)
	$(BIN)/python -m pytest

# make bench [SIZE=1000000]: timings and peak memory beside DuckDB doing the plain work, in one run
bench: $(STAMP)
	$(BIN)/python -m tests.bench $(SIZE)

# as root (containers, many provincial servers) JupyterLab needs --allow-root
lab: $(STAMP)
	$(BIN)/pip install --quiet -e ".[lab]"
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root,) notebooks/

clean:
	rm -rf data/processed/*.duckdb* outputs/*/
