"""`python fakesnow_server.py PORT [DIR]`: fakesnow's server for the tests.

With DIR, its databases are DuckDB files there and survive the server being killed and
restarted (`fakesnow -s` ignores `-d`). Snowflake functions the project uses that fakesnow
0.12 lacks are added as DuckDB macros in each database, behaving as Snowflake documents them.
"""

from __future__ import annotations

import sys

import fakesnow.macros
import fakesnow.server
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

if __name__ == "__main__":
    if len(sys.argv) > 2:
        fakesnow.server.shared_fs = FakeSnow(db_path=sys.argv[2])
    uvicorn.run(fakesnow.server.app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
