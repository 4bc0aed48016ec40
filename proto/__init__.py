"""The one schema shared by the SDK and the sidecar.

Every message that crosses the ZeroMQ socket or lands in a transaction log is defined in
:mod:`tracker.proto.messages`; :mod:`tracker.proto.frames` is the on-disk framing of the
transaction log. Nothing else in the project calls msgpack.
"""

from tracker.proto.messages import (  # noqa: F401
    SCHEMA_VERSION,
    Kind,
    ProtoError,
    decode,
    decode_reply,
    encode,
    encode_log,
    encode_reply,
    pack_value,
    unpack_value,
)
