# Set-up and checks. `make demo` and `make test` each do all the set-up they need on a
# fresh machine (a virtual environment in .venv, the CPU build of torch first, then the
# project: `make demo` its runtime dependencies only, `make test` the test extras too and
# Debian's Chromium for the browser tests).
VENV ?= .venv
PIP = $(VENV)/bin/pip
STAMP = $(VENV)/.installed
RUNTIME = $(VENV)/.installed-runtime

.PHONY: demo test test-zulip zulip-renderings bench evaluate browser clean

# what the bot and the demo need; the test extras (BERTopic, selenium, hypothesis...) on top
$(RUNTIME): pyproject.toml
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e .
	touch $(RUNTIME)

$(STAMP): $(RUNTIME)
	$(PIP) install --quiet -e '.[test]'
	touch $(STAMP)

browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -q && apt-get install -y -q chromium chromium-driver; }

demo: $(RUNTIME)
	$(VENV)/bin/batchviz demo

test: $(STAMP) browser
	$(VENV)/bin/python -m pytest

# The real-Zulip tier: builds (about 13 min the first time) and starts the server kit in
# ../shared/zulip-server unless one is already up, then runs the real bot against it.
test-zulip: $(STAMP)
	$(VENV)/bin/python -m pytest -m real_zulip tests/real_zulip

# Record the real server's renderings of the render corpus for the fast suite
# (tests/bot/fixtures/zulip_renderings.json.gz); needs the real server, as test-zulip.
zulip-renderings: $(STAMP)
	BATCHVIZ_RECORD_RENDERINGS=1 $(VENV)/bin/python -m pytest -m real_zulip \
	  tests/real_zulip/test_real_render.py -k corpus -p no:cacheprovider

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/bench.py

evaluate: $(STAMP)
	$(PIP) install --quiet -e '.[test,bench]'
	$(VENV)/bin/python benchmarks/evaluate.py

clean:
	rm -rf $(VENV) batchviz-data
