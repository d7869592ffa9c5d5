# intake — two commands do everything on a fresh Debian machine:
#   make demo   set up, build, generate samples, check them
#   make test   set up, fmt + clippy, the whole test suite

SHELL := /bin/bash
CARGO ?= cargo
DEBS := libtesseract-dev libleptonica-dev tesseract-ocr-eng tesseract-ocr-rus \
        tesseract-ocr-osd libclang-dev clang pkg-config fonts-ocr-b fonts-dejavu-core
DEMO_DIR := out/demo
INTAKE := target/release/intake
# Tesseract must not spawn OpenMP threads: we run one instance per worker thread.
export OMP_THREAD_LIMIT := 1

.PHONY: setup deps build demo test samples bench fmt clippy clean

setup: deps build

# Installs only what is missing; `apt-get update` only when something is.
deps:
	@missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build:
	$(CARGO) build --release --workspace

samples: build
	$(INTAKE) samples --out $(DEMO_DIR) --count 12 --seed 7

demo: setup samples
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

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: deps fmt clippy
	$(CARGO) test --workspace --release

bench: setup
	$(CARGO) bench --bench check

clean:
	rm -rf out
