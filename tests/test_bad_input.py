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


def test_an_init_sent_again_by_its_own_process_gets_the_first_answer(tracker_env, api):
    """A resent INIT (the answer was slow) is the same run, not a second one "already running"."""
    from tracker.proto.messages import decode_reply
    from tracker.proto.payloads import InitReply

    run = tracker.init(project="bad")
    run.log({"x": 1})
    run.status()  # the row is committed
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(sidecar_paths(tracker_env["store"]).endpoint)
    try:
        sock.send(encode(Kind.INIT, 77, run._info))
        assert sock.poll(15000), "no answer to the resent INIT"
        rid, ok, payload = decode_reply(sock.recv())
    finally:
        sock.close()
    assert rid == 77 and ok, payload
    reply = InitReply.from_wire(payload)
    assert reply.token == run._info.token and reply.starting_step == 1
    run.log({"x": 2})
    run.finish()
    assert [r["x"] for r in api.run(run.path).scan_history()] == [1, 2]
    assert api.run(run.path).state == "finished"
