"""The Alembic migration tree: an archive filled at the first revision survives the upgrade to head intact
and searchable, the models match what the migrations build, concurrent upgrades are safe, and 0012
corrects the text of articles with an empty share link in place."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from conftest import FIXTURES
from sqlalchemy import Engine, inspect, text
from test_storage import SEED_ID, T0, emnews_article, sample_articles, seed_article

from newscrawl.parsers import parse_article
from newscrawl.parsers.text import html_to_text
from newscrawl.processing import normalise
from newscrawl.storage import Archive, Base, current_revision, head_revision, upgrade_database
from newscrawl.storage import search as search_module
from newscrawl.storage.engine import create_archive_engine
from newscrawl.storage.migrate import ArchiveError, alembic_config, script_revisions
from newscrawl.storage.pending import PendingWrites
from newscrawl.storage.summary import Tally

FIRST_REVISION = "0001_initial"


def _snapshot(engine: Engine, but: tuple[str, ...] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every modelled table the database has (and the view), in key order, as the driver
    returns them; without the columns named in ``but``."""
    snapshot = {}
    inspector = inspect(engine)
    existing = set(inspector.get_table_names())
    names = {t: [c["name"] for c in inspector.get_columns(t) if c["name"] not in but] for t in existing}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name not in existing:
                continue
            key = ", ".join(column.name for column in table.primary_key.columns)
            columns = ", ".join(names[table.name])
            snapshot[table.name] = [tuple(row) for row in connection.execute(
                text(f"SELECT {columns} FROM {table.name} ORDER BY {key}"))]
        snapshot["jekyll_posts"] = [tuple(row) for row in connection.execute(
            text("SELECT * FROM jekyll_posts ORDER BY article_id"))]
    return snapshot


def _counts(engine: Engine) -> list[tuple[Any, ...]]:
    """article_counts as (day, category, articles), sorted."""
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT day, category, articles FROM article_counts")).all()
    return sorted((tuple(row) for row in rows), key=repr)


def _grouped(engine: Engine) -> list[tuple[Any, ...]]:
    """The same counts taken from the articles themselves by the database: the day as it reads it in UTC+8."""
    # Each backend's own date functions (the archive reads the stored text's first ten characters on SQLite).
    day = ("CAST(CAST(published_at AT TIME ZONE 'Etc/GMT-8' AS date) AS text)" if engine.dialect.name == "postgresql"
           else "date(published_at, '+8 hours')")
    with engine.connect() as connection:
        rows = connection.execute(text(f"SELECT {day}, category, count(*) FROM articles GROUP BY 1, 2")).all()
    return sorted((tuple(row) for row in rows), key=repr)


def test_tree_is_linear_and_its_head_is_the_code_s() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_heads() == [head_revision()]
    chain = [script.revision for script in scripts.walk_revisions()]
    assert chain == [head_revision(), "0011_summary", "0010_search_pg", "0009_bigram_search", "0008_import",
                     "0007_run_coverage", "0006_side_outputs", "0005_revisions", "0004_published_near",
                     "0003_story_sketches", "0002_search", FIRST_REVISION]
    assert head_revision() == "0012_import_fix"


def test_the_tree_is_read_as_alembic_reads_it() -> None:
    # Opening an archive reads the head from the scripts' text, without Alembic (~85 ms a start): the two
    # readings of the tree must agree.
    scripts = ScriptDirectory.from_config(alembic_config())
    alembic_tree = {script.revision: (script.down_revision,) if isinstance(script.down_revision, str)
                    else tuple(script.down_revision or ()) for script in scripts.walk_revisions()}
    assert script_revisions() == alembic_tree
    assert [head_revision()] == scripts.get_heads()


def test_the_revision_is_read_as_alembic_reads_it(db_url: str) -> None:
    # Opening an archive reads alembic_version itself (Alembic loads only to migrate): it must agree with
    # Alembic on a new, a migrated and a damaged database.
    engine = create_archive_engine(db_url)
    try:
        def alembic_says() -> str | None:
            with engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()

        assert current_revision(engine) is None and alembic_says() is None
        upgrade_database(engine, FIRST_REVISION)
        assert current_revision(engine) == alembic_says() == FIRST_REVISION
        upgrade_database(engine)
        assert current_revision(engine) == alembic_says() == head_revision()
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0009_elsewhere')"))
        with pytest.raises(ArchiveError, match="several schema revisions"):
            current_revision(engine)
    finally:
        engine.dispose()


def test_filled_first_revision_upgrades_intact_and_searchable(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert upgrade_database(db_url, FIRST_REVISION) == (None, FIRST_REVISION)
    engine = create_archive_engine(db_url)
    try:
        # The repository works on the first revision's tables but for the dedupe's sketches (revision
        # 0003) and the bigram search index (0009), which the newscrawl of that revision did not write:
        # fill it the way its crawl would have. Sketches and counts (0011) are rows written at the end of
        # each transaction (storage/pending.py), which that newscrawl did not write either.
        monkeypatch.setattr(PendingWrites, "write", lambda *args, **kwargs: None)
        # Nor did it know exact_values (revision 0006): the column is there only while this code fills it.
        with engine.begin() as connection:
            for table in ("articles", "article_revisions"):
                connection.execute(text(f"ALTER TABLE {table} ADD COLUMN exact_values TEXT"))
        monkeypatch.setattr(search_module, "index_article", lambda *args, **kwargs: None)
        monkeypatch.setattr(search_module, "reindex_article", lambda *args, **kwargs: None)
        old = Archive(engine)
        run_id = old.start_run("https://finews.withounder.com/", {"NEWSCRAWL_DB_URL": "sqlite:///x"})
        articles = sample_articles()
        many = [emnews_article(f"2021121122070{i:05d}", 11, f"第{i}条快讯：政务服务改革",
                               f"第{i}条正文，南召县政务服务。") for i in range(200)]
        old.upsert_articles([*articles, *many], T0, run_id)
        old.upsert_article(seed_article(title="南阳市南召县：政务服务事项一日办结", content_hash="v2"),
                           T0 + timedelta(hours=1), run_id)
        old.save_page("https://finews.withounder.com/", '"e"', None, [articles[0].url], 200, T0)
        old.finish_run(run_id, "ok", {"new": len(articles) + len(many), "updated": 1})
        with engine.begin() as connection:
            for table in ("articles", "article_revisions"):
                connection.execute(text(f"ALTER TABLE {table} DROP COLUMN exact_values"))
        before = _snapshot(engine, but=("content_hash",))
        assert len(before["articles"]) == len(articles) + len(many)
        assert len(before["article_revisions"]) == 1
        assert current_revision(engine) == FIRST_REVISION
    finally:
        engine.dispose()

    monkeypatch.undo()
    assert upgrade_database(db_url) == (FIRST_REVISION, head_revision())

    # Every match ranked (not only the newest RANKED): the index must hold every article archived before.
    monkeypatch.setattr(search_module, "RANKED", 1000)
    with Archive.open(db_url) as archive:
        after = _snapshot(archive.engine, but=("content_hash",))
        assert after.pop("story_sketches") == []  # derived from the text when a crawl needs them
        assert after.pop("missing_outputs") == []
        assert after.pop("imported_posts") == [] and after.pop("import_commits") == []  # 0008: nothing imported
        # 0011 counted the articles per publication day and category as the database groups them.
        assert _counts(archive.engine) == _grouped(archive.engine)
        assert sum(count for *_, count in _counts(archive.engine)) == len(before["articles"])
        after.pop("article_counts")
        # Revision 0007 adds the runs' coverage and reasons: null for the runs recorded before it; 0008 their
        # kind: every earlier run was a crawl.
        assert after.pop("crawl_runs") == [(*run, None, None, "crawl") for run in before.pop("crawl_runs")]
        # Revision 0006 adds exact_values last, empty: every value was storable as it was.
        for table in ("articles", "article_revisions"):
            assert [row[-1] for row in after[table]] == [None] * len(before[table])
            after[table] = [row[:-1] for row in after[table]]
        assert after == before
        # Revision 0005 recomputed every content hash: the same articles stored again are unchanged.
        current = [*articles, *many]
        current[current.index(next(a for a in current if a.article_id == SEED_ID))] = seed_article(
            title="南阳市南召县：政务服务事项一日办结")
        outcomes = archive.upsert_articles([replace(a, content_hash=None) for a in current], T0 + timedelta(hours=1))
        assert set(outcomes) == {"unchanged"}
        hits = archive.search("政务服务", limit=500)
        assert {hit.article_id for hit in hits} >= {SEED_ID, *(a.article_id for a in many)}
        assert [hit.article_id for hit in archive.search("南召县：政务")] == [SEED_ID]
        assert len(archive.search("南召", limit=500)) == 1 + len(many) + 1  # the seed, the flashes, one emnews
        # The index keeps following writes made after the upgrade.
        archive.upsert_article(seed_article(title="新标题", content_hash="v3"), T0 + timedelta(hours=2))
        assert [hit.article_id for hit in archive.search("新标题")] == [SEED_ID]
        assert _counts(archive.engine) == _grouped(archive.engine)  # and follow the writes after it
        # A write after the upgrade keeps its sketch; the older articles still have none.
        assert set(archive.story_sketches([SEED_ID, *(a.article_id for a in many)])) == {SEED_ID}
        # The dedupe's time index (revision 0004) covers the rows archived before it.
        assert {i["name"] for i in inspect(archive.engine).get_indexes("articles")} >= {
            "ix_articles_published_at", "ix_articles_published_at_article_id"}
        near = archive.published_near(many[0], window=timedelta(0))
        assert set(near) == {a.article_id for a in [*articles, *many] if a.published_at == many[0].published_at}


def test_models_match_the_migrations(db_url: str) -> None:
    upgrade_database(db_url)
    engine = create_archive_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    # Search objects (search_documents, search_fts and its shadow tables, the GIN index) are not models;
    # everything else must agree.
    assert [d for d in differences if "search_" not in str(d)] == []


def test_downgrade_to_base_and_up_again(db_url: str) -> None:
    upgrade_database(db_url)
    engine = create_archive_engine(db_url)
    try:
        from alembic import command

        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        assert inspect(engine).get_view_names() == []
    finally:
        engine.dispose()
    assert upgrade_database(db_url) == (None, head_revision())
    with Archive.open(db_url) as archive:
        archive.upsert_article(seed_article(), T0)
        assert [hit.article_id for hit in archive.search("政务服务")] == [SEED_ID]


def test_concurrent_first_opens_create_the_schema_once(db_url: str) -> None:
    """Two crawls starting at once on a new database: both open it, neither fails."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_archive() -> None:
        try:
            barrier.wait()
            with Archive.open(db_url) as archive:
                archive.upsert_article(seed_article(), T0)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_archive) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert current_revision(db_url) == head_revision()
    with Archive.open(db_url) as archive:
        assert archive.count_articles() == 1


EMPTY_LINK = FIXTURES / "emnews_empty_link"


def indexed(engine: Engine, token: str) -> int:
    """How many search documents hold ``token``, read from the index's own table."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            found = connection.execute(text("SELECT COUNT(*) FROM search_fts WHERE search_fts MATCH :q"),
                                       {"q": '"' + token + '"'})
        else:
            # A lexeme is the token behind its document's period ("<hex period>:"), from 0010_search_pg on.
            found = connection.execute(text("SELECT COUNT(*) FROM search_documents WHERE EXISTS (SELECT 1 FROM "
                                            "unnest(tsvector_to_array(bigrams)) AS lexeme "
                                            "WHERE substr(lexeme, strpos(lexeme, ':') + 1) = :t)"), {"t": token})
        return int(found.scalar_one())


def test_an_empty_share_link_s_text_archived_before_0012_is_corrected_without_a_revision(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The archive as the parser before 0012 left it: the page's whole text, "<>" line included.
    url = (EMPTY_LINK / "url.txt").read_text(encoding="utf-8").strip()
    page = (EMPTY_LINK / "page.html").read_text(encoding="utf-8")
    today = normalise(parse_article(page, url))
    before = normalise(replace(parse_article(page, url), body_text=html_to_text(today.body_html or "")))
    assert before.body_text is not None and before.body_text.endswith("<>")
    assert before.content_hash != today.content_hash
    # The revision 0012 follows: the index is written by today's code, in that revision's form.
    (previous,) = script_revisions()["0012_import_fix"]
    assert upgrade_database(db_url, previous)[1] == previous
    engine = create_archive_engine(db_url)
    try:
        old = Archive(engine)
        with monkeypatch.context() as patched:
            patched.setattr(Tally, "write", lambda *args, **kwargs: None)  # article_counts comes with 0011
            old.upsert_article(before, T0)
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO imported_posts (article_id, file_name, post_text, content_hash, "
                                    "imported_at) VALUES (:id, 'post.md', 'text', :hash, :at)"),
                               {"id": before.article_id, "hash": before.content_hash, "at": T0})
        assert [hit.article_id for hit in old.search("<>")] == [before.article_id] and indexed(engine, "<>") == 1
        upgrade_database(engine)
        archive = Archive(engine)
        stored = archive.get_article(today.article_id)
        assert stored is not None
        assert (stored.body_text, stored.content_hash, stored.simhash) == (
            today.body_text, today.content_hash, today.simhash)
        assert stored.body_html == before.body_html  # the page still rebuilds the same
        # The index itself, not only the search (which checks each candidate's text): a contentless FTS5
        # document is deleted by its tokens, so stale ones would corrupt it.
        assert indexed(engine, "<>") == 0 and indexed(engine, "数据") == 1
        assert archive.search("<>") == []
        assert [hit.article_id for hit in archive.search("Choice数据")] == [today.article_id]
        with engine.connect() as connection:
            assert connection.execute(text("SELECT content_hash FROM imported_posts")).scalar() == today.content_hash
            assert connection.execute(text("SELECT COUNT(*) FROM story_sketches")).scalar() == 0
        # The next sighting of the same page is no change.
        assert archive.upsert_article(today, T0 + timedelta(hours=1)) == "unchanged"
        assert archive.revisions(today.article_id) == []
    finally:
        engine.dispose()
