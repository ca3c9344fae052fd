"""Realtime: Faker transactions -> Kafka -> PostgreSQL, with Quix Streams."""

import warnings

# quixstreams imports authlib's httpx integration, which warns about its own rename on every
# import: noise on every `stack consume`, nothing a user can act on. authlib installs an
# "always" filter for its warnings when first imported, so ours must come after it.
import authlib.deprecate

warnings.filterwarnings("ignore", category=authlib.deprecate.AuthlibDeprecationWarning)
