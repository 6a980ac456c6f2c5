"""Database guards for the ledger: entries and transfers are never updated or deleted,
and (PostgreSQL) every transfer's entries net to zero when the transaction commits.

SQLite refuses UPDATE only: its test flush empties tables with DELETE, which PostgreSQL's
TRUNCATE does not turn into row deletes. Model code refuses both on either database.
"""

from django.db import migrations

TABLES = ("credits_ledgerentry", "credits_transfer")

POSTGRES_FORWARD = [
    """
    CREATE FUNCTION credits_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'credits: % on % refused: the ledger is append-only', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END $$
    """,
    *(
        f"""
        CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION credits_refuse_change()
        """
        for table in TABLES
    ),
    """
    CREATE FUNCTION credits_transfer_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE total bigint;
    BEGIN
        SELECT COALESCE(SUM(amount), 0) INTO total
            FROM credits_ledgerentry WHERE transfer_id = NEW.transfer_id;
        IF total <> 0 THEN
            RAISE EXCEPTION 'credits: transfer % does not net to zero (%)', NEW.transfer_id, total
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER credits_ledgerentry_balanced
        AFTER INSERT ON credits_ledgerentry DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION credits_transfer_balanced()
    """,
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER credits_ledgerentry_balanced ON credits_ledgerentry",
    "DROP FUNCTION credits_transfer_balanced()",
    *(f"DROP TRIGGER {table}_append_only ON {table}" for table in TABLES),
    "DROP FUNCTION credits_refuse_change()",
]
SQLITE_FORWARD = [
    f"""
    CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table}
    BEGIN SELECT RAISE(ABORT, 'credits: the ledger is append-only'); END
    """
    for table in TABLES
]
SQLITE_BACKWARD = [f"DROP TRIGGER {table}_append_only" for table in TABLES]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("credits", "0003_ledger")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        )
    ]
