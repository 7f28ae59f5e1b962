# Entry points used the same way by people and by CI.
#   make demo   run the bundled IoT router over its sample stream (no Kafka needed)
#   make test   lint, type-check, conformance corpus, unit and real-broker integration tests
#   make bench  the benchmarks (figures go to benchmarks/RESULTS.md by hand)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED ?= ../shared
EXAMPLE := express/examples/iot

.PHONY: venv demo test lint typecheck conformance pytest bench broker-start broker-stop clean

$(BIN)/express: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/express

venv: $(BIN)/express

demo: venv
	$(BIN)/express run $(EXAMPLE)/router.asl.json --handlers $(EXAMPLE)/handlers.py \
		--input-file $(EXAMPLE)/readings.jsonl --output-file .cache/demo/outputs.jsonl \
		--dlq-file .cache/demo/dead-letters.jsonl

lint: venv
	$(BIN)/ruff check express connectors tests benchmarks
	$(BIN)/ruff format --check express connectors tests benchmarks

typecheck: venv
	$(BIN)/mypy

conformance: venv
	@if [ -d $(SHARED)/conformance ]; then \
		$(BIN)/python $(SHARED)/conformance/run.py --engine $(BIN)/express --jobs 2; \
	else echo "conformance: $(SHARED)/conformance not found, skipped"; fi

pytest: venv
	$(BIN)/pytest

test: lint typecheck conformance pytest

bench: venv
	$(BIN)/python -m benchmarks.bench_engine
	$(BIN)/python -m benchmarks.bench_kafka
	$(BIN)/python -m benchmarks.bench_logging

broker-start: venv
	scripts/kafka-broker start

broker-stop: venv
	scripts/kafka-broker stop

clean:
	rm -rf $(VENV) .cache build *.egg-info
