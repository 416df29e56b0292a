# Set-up is automatic: every target creates or reuses .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast docs browser screenshots bench-scale bench-pipeline bench-shots bench-encoder bench-prior bench-prior-ceiling bench-generator bench-interp bench-occluded bench-memory bench-edit bench-edit-encoder bench-real bench-inversion train-gan train-encoder train-prior train-directions clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch is pinned to the CPU build on local disk; torchvision is never installed.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test,face]"
	# An external z-space generator for the adapter's test; --no-deps keeps torchvision out.
	$(PY) -m pip install --quiet --no-deps gan-face-generate==1.1.1
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/dynode demo --out demo_out

# One pytest worker per core (pytest-xdist; tests/conftest.py gives each its share of torch's threads);
# an idle worker takes tests from a busy one (worksteal), so a long module does not leave a core idle.
test: $(STAMP) browser
	$(PY) -m pytest -q -n auto --dist worksteal

# The documentation site (docs/, with the API reference from the docstrings) into site/.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# The app's browser test drives Debian's chromium (Playwright's own browser download cannot work
# offline): installed here when missing and apt-get can; otherwise that one test is skipped, saying why.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
		{ command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		  apt-get install -y -qq chromium >/dev/null; } || \
		echo "no chromium and no way to install it: the app's browser test will be skipped"

# The README's app screenshots, taken by the browser test.
screenshots: $(STAMP) browser
	DYNODE_SCREENSHOTS=docs $(PY) -m pytest -q tests/test_app.py -k browser

# The unit tests only (seconds each): the slow end-to-end tests are left out.
test-fast: $(STAMP)
	$(PY) -m pytest -q -n auto --dist worksteal -m "not slow"

# Benchmarks (minutes; not part of the tests): JSON on stdout, files in bench_out/.
bench-generator: $(STAMP)
	$(PY) benchmarks/generator_quality.py --out bench_out/generator

bench-interp: $(STAMP)
	$(PY) benchmarks/interpolation.py --out bench_out/interp

bench-occluded: $(STAMP)
	$(PY) benchmarks/occluded.py --out bench_out/occluded

bench-memory: $(STAMP)
	$(PY) benchmarks/fit_memory.py

# The edits are also scored by a probe trained apart (seed 1), which no lock reads.
bench_out/judge/model.safetensors: $(STAMP)
	$(VENV)/bin/dynode train-attributes --out bench_out/judge --seed 1

bench-edit: $(STAMP) bench_out/judge/model.safetensors
	$(PY) benchmarks/editing.py --judge bench_out/judge --out bench_out/edit

# The same on the encoder's inversion (the default of `dynode invert`; inverting takes about 20 minutes).
bench-edit-encoder: $(STAMP) bench_out/judge/model.safetensors
	$(PY) benchmarks/editing.py --init encoder --judge bench_out/judge --out bench_out/edit_encoder

bench-real: $(STAMP)
	$(PY) benchmarks/real_clip.py --out bench_out/real

bench-scale: $(STAMP)
	$(PY) benchmarks/scale.py

# The whole pipeline timed per stage on every device here (cuda and cpu when there is a GPU).
bench-pipeline: $(STAMP)
	$(PY) benchmarks/pipeline_speed.py

bench-shots: $(STAMP)
	$(PY) benchmarks/shots.py --seconds 120 --out bench_out/shots

bench-encoder: $(STAMP)
	$(PY) benchmarks/encoder.py --out bench_out/encoder

# The inversion recipes (per-frame optimisation, the encoder's codes with the generator tuned for 100-300 steps) on
# held-out frames at 4 and 2 fps, and inversion + fit of 120 frames (about 15 minutes).
bench-inversion: $(STAMP)
	$(PY) benchmarks/inversion.py --out bench_out/inversion

# Retrain the bundled generator's encoder as docs/training.md records (about 40 minutes on 2 cores): through the
# generator, started from the one-pass encoder it replaced (read from git history); exported into its model folder.
train-encoder: $(STAMP)
	mkdir -p runs/encoder_v1
	for f in config.json model.safetensors; do git show 25fd497:src/dynode/weights/toyfaces64/encoder/$$f > runs/encoder_v1/$$f; done
	$(VENV)/bin/dynode train-encoder --generator toyfaces64 --out runs/encoder --steps 2500 --lr 5e-4 --toy 0.5 --warm runs/encoder_v1

# The bundled library's named edits, learned through the generator and its probe (about 2 minutes each on 2 cores);
# the InterFaceGAN entries they replace stay as interfacegan_NAME.
train-directions: $(STAMP)
	$(VENV)/bin/dynode directions fit --method learned --generator toyfaces64

# The bundled motion prior: 256 toy videos inverted by the encoder (about 15 minutes), then 1500 steps.
train-prior: $(STAMP)
	$(VENV)/bin/dynode train-prior --generator toyfaces64 --toy 256 --out runs/prior

# The prior against the per-video field and the baselines at 4, 2 and 1 fps (about 20 minutes).
bench-prior: $(STAMP)
	$(PY) benchmarks/prior.py --out bench_out/prior

# How far ahead any linear predictor sees in the codes make train-prior cached (its videos held out).
bench-prior-ceiling: $(STAMP)
	$(PY) benchmarks/prior_ceiling.py --codes runs/prior/codes

# Continue training the bundled generator (long; not part of the tests): from this machine's
# run if there is one, else from the committed state of the shipped checkpoint.
RESUME := $(firstword $(wildcard runs/toyfaces64/state.pt) training/toyfaces64/state.pt)
train-gan: $(STAMP)
	$(VENV)/bin/dynode train-gan --out runs/toyfaces64 --kimg 400 --resume $(RESUME)

clean:
	rm -rf demo_out bench_out .pytest_cache
