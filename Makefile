# intake — two commands do everything on a fresh Debian machine:
#   make demo   set up, build, check the samples, run the durable service on the default store
#   make test   set up, fmt + clippy, the whole test suite

SHELL := /bin/bash
CARGO ?= cargo
# poppler-utils: pdftoppm draws the PDF images intake does not decode itself
# (CCITT, JBIG2, JPEG 2000). The rest make the test PDFs the way applicants'
# tools do (tests/producers/make_pdfs.sh): img2pdf, ReportLab, Ghostscript,
# ImageMagick, OCRmyPDF. nats-server (2.9): the JetStream store's tests start
# their own on a loopback port; curl and jq: `make demo-cluster` talks to the API.
DEBS := libtesseract-dev libleptonica-dev tesseract-ocr-eng tesseract-ocr-rus \
        tesseract-ocr-osd libclang-dev clang pkg-config fonts-ocr-b fonts-dejavu-core \
        chromium poppler-utils img2pdf python3-reportlab ghostscript imagemagick ocrmypdf \
        nats-server curl jq
DEMO_DIR := out/demo
INTAKE := target/release/intake
# Tesseract must not spawn OpenMP threads: we run one instance per worker thread.
export OMP_THREAD_LIMIT := 1

.PHONY: setup deps e2e-deps build demo demo-check demo-service demo-cluster test corpus samples glyphs bench throughput fmt clippy clean

setup: deps e2e-deps build

# Installs only what is missing; `apt-get update` only when something is.
deps:
	@missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# playwright-core for the console's browser test (it drives Debian's chromium).
e2e-deps:
	@[ -d tests/e2e/node_modules/playwright-core ] || (cd tests/e2e && npm ci --no-audit --no-fund)

build:
	$(CARGO) build --release --workspace

samples: build
	$(INTAKE) samples --out $(DEMO_DIR) --count 12 --seed 7

# The MRZ glyph classifier's templates, rendered from fonts-ocr-b (committed; a
# test fails when they differ from what the font renders). Rebuild after it.
glyphs: build
	$(INTAKE) samples --ocrb-atlas stages/src/ocr/ocrb-mrz.png
	$(CARGO) build --release --workspace

demo: setup samples demo-check demo-service

demo-check:
	@echo "== committed samples (samples/committed), no declared profile =="
	$(INTAKE) check samples/committed/*.jpg samples/committed/*.pdf samples/committed/*.bmp --today 2026-06-01
	@echo
	@echo "== samples/committed/passport.jpg against each declared profile =="
	@for p in samples/committed/profiles/passport.*.json; do \
	  echo "-- $$p"; $(INTAKE) check samples/committed/passport.jpg --profile $$p --today 2026-06-01 | grep -v '^  |'; \
	done
	@echo
	@echo "== generated samples ($(DEMO_DIR)): verdicts =="
	$(INTAKE) check $(DEMO_DIR)/*.jpg $(DEMO_DIR)/*.png $(DEMO_DIR)/*.pdf $(DEMO_DIR)/*.bmp \
	  $(DEMO_DIR)/*.gif $(DEMO_DIR)/*.tiff $(DEMO_DIR)/*.webp --today 2026-06-01 | grep -v '^  |'

# The durable service on the store of pipeline.toml (store.path): uploads of
# four accounts, the pipeline, statuses, the review queue and a reviewer's
# decision. Run it again: every upload is recognised as already submitted.
S := samples/committed
P := samples/committed/profiles
ON := --today 2026-06-01
demo-service:
	@[ -f intake.key ] || $(INTAKE) keygen --out intake.key
	@echo "== the durable service: submit uploads for four accounts =="
	$(INTAKE) submit $(ON) --account uzb-1 --kind passport --profile $(P)/passport.transliteration.json $(S)/passport.jpg
	$(INTAKE) submit $(ON) --account uzb-1 --kind migration_card --profile $(P)/migration_card.matching.json $(S)/migration_card.jpg
	$(INTAKE) submit $(ON) --account ukr-1 --kind passport --profile $(P)/passport_upside_down.mismatch_surname.json $(S)/passport_upside_down.jpg
	$(INTAKE) submit $(ON) --account ukr-1 --kind visa --profile $(P)/visa.matching.json $(S)/visa.jpg
	$(INTAKE) submit $(ON) --account bmp-1 --kind passport $(S)/passport_scan.bmp
	$(INTAKE) submit $(ON) --account card-1 --kind id_card --profile $(P)/id_card.matching.json $(S)/id_card.pdf
	$(INTAKE) submit $(ON) --account uzb-1 --kind passport --profile $(P)/passport.transliteration.json $(S)/passport.jpg
	@echo
	@echo "== run the staged pipeline over every pending job =="
	$(INTAKE) run $(ON)
	@echo
	@echo "== the verdict queue =="
	$(INTAKE) queue tail --brief $(ON)
	@echo
	@echo "== account statuses =="
	@for a in uzb-1 ukr-1 bmp-1 card-1; do $(INTAKE) status $$a $(ON); done
	@echo
	@echo "== the review queue; reviewer r1 claims and accepts what is flagged =="
	$(INTAKE) review list $(ON)
	@for job in $$($(INTAKE) review list --json $(ON) | sed -n 's/^{"job":"\([0-9a-f]*\)".*/\1/p'); do \
	  $(INTAKE) review claim $$job --reviewer r1 $(ON) && \
	  $(INTAKE) review resolve $$job --reviewer r1 --decision accept --comment "surname is a known variant" $(ON); \
	done
	$(INTAKE) status ukr-1 $(ON)
	@echo
	@echo "== the audit log of ukr-1; every status equals the one computed afresh from the verdicts =="
	$(INTAKE) audit ukr-1 $(ON)
	$(INTAKE) accounts verify $(ON)
	$(INTAKE) audit verify $(ON)

# The pipeline on NATS JetStream: one nats-server, two `intake worker`
# processes and one `intake serve`; the demo uploads go in through the API.
demo-cluster: setup
	bash scripts/demo-cluster.sh

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: deps e2e-deps fmt clippy
	$(CARGO) test --workspace --release
	CARGO=$(CARGO) bash scripts/test-jetstream.sh
	$(MAKE) corpus

# Reading on documents we did not make: ../shared/corpora/dev-a scored by the
# shared scorer; fails below the floor in tests/corpus_gate.py.
corpus: build
	python3 tests/corpus_gate.py

bench: setup
	$(CARGO) bench --bench check

# End-to-end throughput, latency, time per stage and peak RSS, 1 and 2 workers per heavy stage.
throughput: setup
	$(INTAKE) bench --docs 100

clean:
	rm -rf out

# intake against PassportEye 2.2.x and fastmrz 2.1.x (issue 4): accuracy and speed on the same
# fixed-seed generated files, in one run (benches/peers/compare.py; venv in out/peers-venv).
# Quick run: make compare COMPARE_COUNT=60
# The second corpus, scans no part of intake made (only measured; skipped with a message when missing).
COMPARE_COUNT ?= 480
COMPARE_SEED ?= 2026
COMPARE_CORPUS ?= ../shared/corpora/dev-a
.PHONY: compare peers-deps
compare: setup peers-deps
	COMPARE_COUNT=$(COMPARE_COUNT) COMPARE_SEED=$(COMPARE_SEED) COMPARE_CORPUS=$(COMPARE_CORPUS) INTAKE=$(INTAKE) python3 benches/peers/compare.py

# Both peers call the tesseract command (Debian tesseract-ocr); the venv needs python3's venv module.
peers-deps:
	@missing=""; command -v tesseract >/dev/null || missing="tesseract-ocr"; \
	python3 -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Fuzzing (issue 6): builds every cargo-fuzz target (fuzz/fuzz_targets, libFuzzer with
# AddressSanitizer and debug assertions) once, then runs each for FUZZ_SECONDS from the
# committed seeds (fuzz/corpus/<target>, read only) into fuzz/corpus-run/<target>, with
# libFuzzer's memory (-rss_limit_mb) and per-input time (-timeout) limits. A crash, leak,
# out-of-memory or timeout lands in fuzz/artifacts/<target>/ and fails the run.
# Not part of `make test`. cargo-fuzz passes nightly flags (-Zsanitizer);
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
FUZZ_SECONDS ?= 60
FUZZ_RSS_MB ?= 2048
FUZZ_TIMEOUT ?= 20
FUZZ_TARGETS ?= sniff_decode pdf_extract pdf_filters mrz_parse mrz_glyphs qr_payload profile_json
.PHONY: fuzz fuzz-deps fuzz-build
fuzz-deps:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked

fuzz-build: fuzz-deps
	RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build

fuzz: fuzz-build
	@host=$$(rustc -vV | sed -n 's/^host: //p'); \
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus-run/$$t fuzz/artifacts/$$t; \
	  echo "== fuzz $$t: $(FUZZ_SECONDS) s"; \
	  fuzz/target/$$host/release/$$t -artifact_prefix=fuzz/artifacts/$$t/ \
	    -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=$(FUZZ_RSS_MB) -timeout=$(FUZZ_TIMEOUT) \
	    -print_final_stats=1 fuzz/corpus-run/$$t fuzz/corpus/$$t 2>&1 \
	    | grep -v -e '^#[0-9]' -e NEW_FUNC -e '^"' -e '^######'; \
	  [ $${PIPESTATUS[0]} -eq 0 ] || exit 1; \
	done
