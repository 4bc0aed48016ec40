"""Bad messages are refused and counted; the sidecar and every other run go on (§6)."""

import msgpack
import tracker
import zmq
from conftest import wait_until
from tracker.client.runtime import sidecar_paths
from tracker.proto.messages import SCHEMA_VERSION, Kind, encode, encode_log


def raw_send(store, *payloads):
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 2000)
    sock.connect(sidecar_paths(store).endpoint)
    for p in payloads:
        sock.send(p)
    sock.close()


def test_malformed_unknown_and_newer_messages_do_not_hurt_a_running_run(tracker_env, api):
    run = tracker.init(project="bad")
    for i in range(100):
        run.log({"i": i})
    raw_send(
        tracker_env["store"],
        b"\xc1\xc1\xc1 not msgpack",
        msgpack.packb([SCHEMA_VERSION, 999, 1]),
        msgpack.packb([SCHEMA_VERSION + 1, int(Kind.LOG), 1, 1, None, True, 0.0, {}]),
        encode_log(424242, 1, None, True, 0.0, {"i": -1}),
        encode(Kind.STATUS, 1, 999),
        msgpack.packb("just a string"),
    )
    for i in range(100, 200):
        run.log({"i": i})
    status = run.status()
    assert status.last_step_committed == 199
    from tracker.client.control import sidecar_statuses

    # the raw socket is not ordered with the run's own: wait for its five refusals to be counted
    wait_until(lambda: sum(sidecar_statuses()[0]["rejected"].values()) >= 5)
    rejected = sidecar_statuses()[0]["rejected"]
    assert rejected.get("malformed", 0) >= 2
    assert rejected.get("unknown_kind") == 1 and rejected.get("bad_version") == 1
    assert rejected.get("unknown_run") == 1
    run.finish()
    assert [r["i"] for r in api.run(run.path).scan_history()] == list(range(200))
