"""Concurrent writers on the run's database (PostgreSQL in its run): no lost update, no record
merged twice, one schema migration, whatever the interleaving."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable

from sqlalchemy import select, text

from migrate.db.models import Document, Draft, MpiPatient, MpiTermFrequency
from migrate.db.session import dispose_engine, get_engine, migrate_to_head, unit_of_work
from migrate.errors import ChartmigrateError
from migrate.mpi import index
from tests.conftest import run_together
from tests.integration.test_mpi_cli import people


def test_concurrent_new_patients_count_every_name(database_url: str) -> None:
    migrate_to_head(database_url)
    base = people(8, seed=5)

    def create(i: int) -> Callable[[], str]:
        def go() -> str:
            identity = {**base[i], "given_name": "Quillon"}
            with unit_of_work(database_url) as s:
                mrn, _ = index.new_patient(s, identity, f"clerk{i}", "CM")
                s.commit()
            return mrn

        return go

    mrns, errors = run_together([create(i) for i in range(8)])
    assert not errors, errors
    assert len(set(mrns)) == 8
    with unit_of_work(database_url) as s:
        tf = s.get(MpiTermFrequency, ("given_name", "quillon"))
        assert tf is not None and tf.count == 8  # none of the eight increments lost

    # The counter itself under load: eight writers counting one name 25 times each.
    def count_many() -> None:
        for _ in range(25):
            with unit_of_work(database_url) as s:
                index._count_name(s, "family_name", "quillon")
                s.commit()

    _, errors = run_together([count_many for _ in range(8)])
    assert not errors, errors
    with unit_of_work(database_url) as s:
        tf = s.get(MpiTermFrequency, ("family_name", "quillon"))
        assert tf is not None and tf.count == 200


def test_one_record_cannot_be_retired_into_two_survivors_at_once(database_url: str) -> None:
    migrate_to_head(database_url)
    rows = [{**p, "id": f"MRN{i:07d}"} for i, p in enumerate(people(3, seed=8))]
    with unit_of_work(database_url) as s:
        index.import_rows(s, rows, "tester")
        s.commit()

    def merge_into(survivor: str) -> Callable[[], str]:
        def go() -> str:
            with unit_of_work(database_url) as s:
                index.merge(s, survivor, "MRN0000002", "supervisor")
                s.commit()
            return survivor

        return go

    done, errors = run_together([merge_into("MRN0000000"), merge_into("MRN0000001")])
    assert len(done) == 1 and len(errors) == 1
    assert isinstance(errors[0], ChartmigrateError) or "lock" in str(errors[0]).lower()
    with unit_of_work(database_url) as s:
        retired = s.scalars(select(MpiPatient).where(MpiPatient.mrn == "MRN0000002")).one()
        winner = s.scalars(select(MpiPatient).where(MpiPatient.mrn == done[0])).one()
        assert retired.status == "merged" and retired.merged_into == winner.id


def test_concurrent_draft_saves_count_every_version(database_url: str) -> None:
    migrate_to_head(database_url)
    with unit_of_work(database_url) as s:
        doc = Document(sha256="a" * 64, source_path="x.pdf", media_type="application/pdf", size_bytes=1, status="done")
        s.add(doc)
        s.flush()
        s.add(Draft(document_id=doc.id, status="pending_review", data={}, extractor_version="t"))
        s.commit()
        doc_id = doc.id
    from migrate.db import repo

    def bump() -> None:
        with unit_of_work(database_url) as s:
            repo.bump_draft_version(s, doc_id)
            s.commit()

    _, errors = run_together([bump for _ in range(6)])
    assert not errors, errors
    with unit_of_work(database_url) as s:
        assert s.scalars(select(Draft.version)).one() == 7


def test_three_processes_migrating_an_empty_database_at_once(empty_database_url: str) -> None:
    """Workers started together on a new database: one migrates, the others wait and find it done."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(3) as pool:
        pool.map(migrate_to_head, [empty_database_url] * 3)
    with get_engine(empty_database_url).connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [_head()]
    dispose_engine(empty_database_url)


def _head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from migrate.db.session import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return str(ScriptDirectory.from_config(cfg).get_current_head())
