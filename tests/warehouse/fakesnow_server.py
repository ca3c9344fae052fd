"""`python fakesnow_server.py PORT [DIR]`: fakesnow's server for the tests.

With DIR, its databases are DuckDB files there and survive the server being killed and
restarted (`fakesnow -s` ignores `-d`). Snowflake functions the project uses that fakesnow
0.12 lacks are added as DuckDB macros in each database, behaving as Snowflake documents them;
a temporary table named in a schema becomes a plain table there (see below).
"""

from __future__ import annotations

import sys

import fakesnow.cursor
import fakesnow.macros
import fakesnow.server
import sqlglot.expressions as exp
import uvicorn
from fakesnow.instance import FakeSnow

# name -> DuckDB body (Snowflake reference: TRY_HEX_DECODE_STRING returns NULL, not an error,
# when the bytes are not UTF-8)
MISSING_FUNCTIONS = {
    "try_hex_decode_string(hex)": "try(decode(unhex(hex)))",
}

_fakesnow_macros = fakesnow.macros.creation_sql


def _creation_sql(catalog: str) -> str:
    extra = "".join(
        f"CREATE OR REPLACE MACRO {catalog}.{signature} AS {body};\n"
        for signature, body in MISSING_FUNCTIONS.items()
    )
    return _fakesnow_macros(catalog) + extra


fakesnow.macros.creation_sql = _creation_sql


def _temporary_in_a_schema_as_plain_table(expression: exp.Expr) -> exp.Expr:
    """`CREATE TEMPORARY TABLE db.schema.name`, which dbt-snowflake's unit tests run to read a
    model's column types: fakesnow hands it to DuckDB, whose temporary tables can only live in
    its `temp` catalog, and fails. A plain table of the same name has the same columns, and
    dbt drops it right after; so does Snowflake's temporary table at the session's end."""
    if isinstance(expression, exp.Create) and expression.kind == "TABLE":
        table = expression.this.this if isinstance(expression.this, exp.Schema) else expression.this
        properties = expression.args.get("properties")
        if isinstance(table, exp.Table) and table.db and properties is not None:
            for prop in list(properties.expressions):
                if isinstance(prop, exp.TemporaryProperty):
                    prop.pop()
    return expression


_fakesnow_transform = fakesnow.cursor.FakeSnowflakeCursor._transform


def _transform(self, expression, params):
    return _fakesnow_transform(self, _temporary_in_a_schema_as_plain_table(expression), params)


fakesnow.cursor.FakeSnowflakeCursor._transform = _transform

if __name__ == "__main__":
    if len(sys.argv) > 2:
        fakesnow.server.shared_fs = FakeSnow(db_path=sys.argv[2])
    uvicorn.run(fakesnow.server.app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
