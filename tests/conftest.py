"""Shared fixtures. Each block below belongs to one part of the project; append, don't reorder."""

import os

# Nothing in the test suite may reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# ---- pipeline: embeddings ----------------------------------------------------------
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def real_embedder():
    """The bundled all-MiniLM-L6-v2, loaded once per test session (offline)."""
    from pipeline.embed import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    embedder.load()
    return embedder


# ---- pipeline: rendered map in headless Chromium --------------------------------------
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """One headless Chromium (selenium) for the session; skipped only if Chromium is absent."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"headless browser tests need Chromium at {CHROMIUM}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--window-size=1280,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


# ---- bot: the Zulip-compatible test server (tests/zulip_server, importable as `zulip_server`
# because pytest puts this folder on sys.path for this conftest) ---------------------------
from zulip_server.fixtures import zulip_server, zulip_spec  # noqa: E402, F401


# ---- bot core: a real Store holding a real demo map (HashingEmbedder) -------------------
@pytest.fixture(scope="session")
def demo_map_db(tmp_path_factory):
    """A closed SQLite file with the bundled demo imported and one map built (source "demo")."""
    from bot.service import import_documents, rebuild
    from bot.settings import database_path
    from pipeline.demo import load_demo
    from pipeline.embed import HashingEmbedder
    from pipeline.params import PipelineParams
    from storage import Store

    path = database_path(tmp_path_factory.mktemp("demo-map"))
    with Store(path) as store:
        import_documents(store, "demo", load_demo())
        rebuild(store, "demo", PipelineParams(), HashingEmbedder())
    return path


@pytest.fixture
def demo_data_dir(demo_map_db, tmp_path):
    """A data folder of one's own holding a copy of the demo map database."""
    import shutil

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(demo_map_db, data_dir / demo_map_db.name)
    return data_dir


@pytest.fixture
def demo_store(demo_data_dir):
    """An open Store on a private copy of the demo map (changes don't leak between tests)."""
    from bot.settings import database_path
    from storage import Store

    with Store(database_path(demo_data_dir)) as store:
        yield store
