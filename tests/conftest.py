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


# ---- pipeline: seeded introductions in distinct topic groups (reduce/cluster/keywords/build)
TOPICS = {
    "systems": "kernel compiler assembly linker scheduler allocator bootloader llvm registers paging",
    "music": "synthesizer guitar drums midi ableton choir jazz melody harmony ukulele",
    "biology": "protein genomics sequencing microscopy enzymes ecology botany bacteria fungi neurons",
}
SURNAMES = {"systems": "Kowalski", "music": "Okafor", "biology": "Lindqvist"}
FIRST_NAMES = "Ana Ben Chen Dara Eli Femi Gus Hana Ivo Jun Kai Lea Max Noor Oli Pia Quinn Rui Sol Tam".split()


def make_topic_documents(per_group=15, topics=None, seed=0, offset=0):
    """Introductions of ``per_group`` people per topic: the same filler, a topic's words, and
    a surname shared by the whole group (said in the text too). ``extra["group"]`` is the topic."""
    import random

    from pipeline.documents import Document

    rng = random.Random(seed)
    topics = topics or TOPICS
    docs = []
    for topic, vocabulary in topics.items():
        words = vocabulary.split()
        surname = SURNAMES.get(topic, topic.capitalize())
        for i in range(per_group):
            name = f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {surname}"
            picked = rng.sample(words, 5)
            text = (f"Hi everyone, I'm {name} and I'm excited to be here! I love {picked[0]}, "
                    f"{picked[1]} and {picked[2]}. This batch I want to try {picked[3]} {picked[4]}. "
                    "Looking forward to meeting everyone!")
            docs.append(Document(f"{topic}-{i + offset}", name, text, text, {"group": topic}))
    return docs


@pytest.fixture(scope="session")
def topic_documents():
    """The factory ``make_topic_documents(per_group, topics, seed, offset)``."""
    return make_topic_documents


@pytest.fixture
def assert_quiet():
    """A context manager failing the test when the code inside emits any warning."""
    import contextlib
    import warnings

    @contextlib.contextmanager
    def quiet():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        assert [str(w.message) for w in caught] == []

    return quiet
