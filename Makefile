# The two commands of the README: `make demo` and `make test`. Each sets up what it needs.
.PHONY: demo test lint unit bootstrap bench clean

export PATH := $(CURDIR)/.venv/bin:$(CURDIR)/.tools/node_modules/.bin:$(PATH)

bootstrap:
	@bash scripts/bootstrap.sh

demo: bootstrap
	klt demo $(if $(KEEP),--keep)

lint: bootstrap
	ruff check .
	ruff format --check lifecycle evaluator tracing sandbox
	mypy
	lint-imports

test: lint
	pytest -q -p no:cacheprovider --cov=lifecycle --cov=evaluator --cov=tracing --cov=sandbox --cov-report=
	coverage report --fail-under=95 --include='lifecycle/core/machine.py,lifecycle/core/machine_steps.py,lifecycle/core/machine_draft.py,lifecycle/core/phases.py,evaluator/objectives.py,evaluator/scoring.py'

bench: bootstrap
	python benchmarks/sandbox.py --quick
	python benchmarks/lifecycle.py --quick
	python benchmarks/scale.py --quick
	python benchmarks/evaluator.py --quick

clean:
	rm -rf .venv .tools .coverage .mypy_cache .ruff_cache
