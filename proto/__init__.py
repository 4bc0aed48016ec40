"""The one schema shared by the SDK and the sidecar.

Every message that crosses the ZeroMQ socket or lands in a transaction log is defined in
:mod:`tracker.proto.messages`; :mod:`tracker.proto.frames` is the on-disk framing of the
transaction log; :mod:`tracker.proto.payloads` types what the messages carry. Import from
those modules. Nothing else in the project calls msgpack.
"""
