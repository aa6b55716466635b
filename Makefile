# gst-ai: the only entry points the README needs.
#   make demo   set up, build, and run the main job (prints the pipeline and where its output went)
#   make test   set up, build, and run the whole test suite
#   make bench  set up, build, and print the benchmark tables
#   make build  build target/release/libgstai.so
#   make soak   run the five elements live side by side (SOAK_SECONDS, default 3600) and print
#               memory, threads and file descriptors over time (not part of make test)
#   make models print the model zoo (zoo:NAME): job, scale, size, license, quality, speed
#   make install  copy the plugin into the user's GStreamer plugin folder
# Set-up (scripts/bootstrap.sh) installs only what is missing, so every target is quick when
# nothing is.

CARGO ?= cargo
export GST_PLUGIN_PATH := $(CURDIR)/target/release
# Keep the registry's plugin cache inside the checkout: a stale cache elsewhere cannot hide us.
export GST_REGISTRY := $(CURDIR)/target/gst-registry.bin

.PHONY: setup build demo test bench soak models install clean

setup:
	@scripts/bootstrap.sh

build: setup
	$(CARGO) build --release -p gst-plugin-ai

demo: build
	$(CARGO) run --release -q -p gst-ai-tests --bin ai-demo

# GST_AI_REQUIRE_NVRTC: setup installed NVRTC, so a CUDA kernel that is not compiled is a failure.
test: build
	GST_AI_REQUIRE_NVRTC=1 $(CARGO) test --release --workspace --no-fail-fast

bench: build
	@scripts/bootstrap.sh --bench
	$(CARGO) run --release -q -p gst-ai-tests --bin ai-bench

SOAK_SECONDS ?= 3600
SOAK_EVERY ?= 60
soak: build
	scripts/soak.sh $(SOAK_SECONDS) $(SOAK_EVERY)

models: setup
	@python3 models/zoo/table.py

install: build
	mkdir -p $(HOME)/.local/share/gstreamer-1.0/plugins
	cp target/release/libgstai.so $(HOME)/.local/share/gstreamer-1.0/plugins/
	@echo "installed: $(HOME)/.local/share/gstreamer-1.0/plugins/libgstai.so"

clean:
	$(CARGO) clean
