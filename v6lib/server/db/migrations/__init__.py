"""Alembic migrations of the server database, shipped inside the package.

To add a revision after changing a model: upgrade a scratch SQLite database to head,
then autogenerate against it and review the result::

    python -c "from alembic import command; from v6lib.server.db.engine import make_engine;
    from v6lib.server.db.migrate import alembic_config, upgrade_database;
    url = 'sqlite:////tmp/v6-migrate.sqlite'; upgrade_database(make_engine(url));
    command.revision(alembic_config(url), message='what changed', autogenerate=True)"

``tests/server/test_migrations.py`` fails while models and migrations disagree.
"""
