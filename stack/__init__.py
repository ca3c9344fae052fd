"""stack: a reproducible local data platform.

The package is a library first: it returns dataclasses, reports progress through `on_event`
callbacks (stack.progress) and notices through `logging`, and never prints. Only stack/cli/
renders. `stack.jobs` is the surface every caller shares (the CLI, Airflow tasks, the agent).
"""

import logging

# A library leaves logging to its application: without this, Python's last-resort handler
# would print the library's warnings on stderr of whoever imports it.
logging.getLogger("stack").addHandler(logging.NullHandler())
