#!/usr/bin/python3
"""kafka-python (Debian's python3-kafka 2.0.2, pure Python) driven through the client matrix's
steps (tests/clients/_matrix.ts; arguments as in tests/clients/java/ClientMatrix.java).

What kafka-python 2.0.2 cannot do at all, so the matrix does not pretend it can:
- ask for the broker's default partitions and replication factor: its CreateTopics stops at
  v3 (KIP-464 needs v4), so `create` takes explicit partitions= and replication=;
- produce idempotently: it has no enable.idempotence (no InitProducerId), so there is no
  idempotent case for it.
Its defaults otherwise, except acks=all, the codec, earliest reset, the group step's session
timeout, and bounded waits."""
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata

from _common import emit, fail, headers_dict, parse_commit, record_value, run


def create(args):
    admin = KafkaAdminClient(bootstrap_servers=args["bootstrap"])
    topic = args["topic"]
    admin.create_topics(
        [NewTopic(topic, int(args["partitions"]), int(args["replication"]))], timeout_ms=20000
    )
    [md] = admin.describe_topics([topic])
    admin.close()
    if md["error_code"] != 0:
        fail(f'Cannot describe topic "{topic}": error {md["error_code"]}')
    emit({
        "topic": topic,
        "partitions": len(md["partitions"]),
        "replicationFactor": len(md["partitions"][0]["replicas"]),
    })


def produce(args):
    count = int(args["count"])
    sync = args.get("sync") == "true"
    if args.get("idempotent") == "true":
        fail("Cannot produce idempotently: kafka-python 2.0.2 has no idempotent producer")
    for codec in args["codecs"].split(","):
        producer = KafkaProducer(
            bootstrap_servers=args["bootstrap"],
            acks="all",
            compression_type=None if codec == "none" else codec,
            max_block_ms=20000,
        )
        target = f"{args['topic']}-{codec}"
        futures = []
        for i in range(count):
            f = producer.send(
                target,
                key=f"k{i}".encode(),
                value=record_value(codec, i).encode(),
                headers=[("index", str(i).encode()), ("codec", codec.encode())],
            )
            if sync:
                f.get(timeout=30)
            futures.append(f)
        producer.flush(timeout=30)
        for f in futures:
            m = f.get(timeout=30)
            emit({"topic": m.topic, "partition": m.partition, "offset": m.offset})
        producer.close()


def new_consumer(args, **extra):
    return KafkaConsumer(
        bootstrap_servers=args["bootstrap"],
        group_id=args["group"],
        auto_offset_reset="earliest",
        **extra,
    )


def record_json(r):
    return {
        "topic": r.topic,
        "partition": r.partition,
        "offset": r.offset,
        "key": r.key.decode() if r.key is not None else None,
        "value": r.value.decode() if r.value is not None else None,
        "headers": headers_dict(r.headers),
    }


def consume(args):
    count = int(args["count"])
    consumer = new_consumer(args)
    consumer.subscribe([args["topic"]])
    seen = 0
    deadline = time.time() + 30
    while seen < count:
        if time.time() > deadline:
            fail(f"Cannot consume {count} records in 30 s: got {seen}")
        for records in consumer.poll(timeout_ms=500).values():
            for r in records:
                emit(record_json(r))
                seen += 1
    consumer.commit()
    consumer.close()


class Listener(ConsumerRebalanceListener):
    def on_partitions_revoked(self, revoked):
        pass

    def on_partitions_assigned(self, assigned):
        # kafka-python's assignors (range, roundrobin) are eager: this is the whole set.
        emit({"assigned": sorted(tp.partition for tp in assigned)})


def member(args):
    consumer = new_consumer(
        args, session_timeout_ms=int(args["session"]), heartbeat_interval_ms=500
    )
    consumer.subscribe([args["topic"]], listener=Listener())
    while True:
        for records in consumer.poll(timeout_ms=200).values():
            for r in records:
                emit({"record": record_json(r)})


def offsets(args):
    topic = args["topic"]
    commit = parse_commit(args["commit"])
    consumer = new_consumer(args)
    tps = {p: TopicPartition(topic, p) for p in commit}
    consumer.assign(list(tps.values()))
    consumer.commit({tps[p]: OffsetAndMetadata(o, "matrix") for p, o in commit.items()})
    emit({"consumerCommitted": {str(p): consumer.committed(tp) for p, tp in tps.items()}})
    consumer.close()
    admin = KafkaAdminClient(bootstrap_servers=args["bootstrap"])
    listed = admin.list_consumer_group_offsets(args["group"])
    admin.close()
    emit({"adminListed": {str(tp.partition): om.offset for tp, om in listed.items() if tp.topic == topic}})


if __name__ == "__main__":
    run(
        {"create": create, "produce": produce, "consume": consume, "member": member, "offsets": offsets},
        sys.argv,
    )
