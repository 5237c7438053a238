#!/usr/bin/python3
"""confluent-kafka-python (Debian's python3-confluent-kafka, on the system librdkafka) driven
through the client matrix's steps (tests/clients/_matrix.ts; arguments as in
tests/clients/java/ClientMatrix.java).

librdkafka's defaults throughout except what the matrix states: acks=all, the codec,
enable.idempotence for the idempotent case (off by default in librdkafka), earliest reset,
the group step's session timeout, and a 30 s message timeout (default 5 min) so a broker that
cannot answer fails the step in seconds. confluent-kafka 1.7's AdminClient has no offset
listing, so offsets are fetched back with the consumer's committed()."""
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from _common import emit, fail, headers_dict, parse_commit, record_value, run


def create(args):
    admin = AdminClient({"bootstrap.servers": args["bootstrap"]})
    topic = args["topic"]
    # -1, -1: the broker's default partitions and replication factor (KIP-464).
    futures = admin.create_topics([NewTopic(topic, -1, -1)], request_timeout=20)
    futures[topic].result(timeout=30)
    md = admin.list_topics(topic, timeout=20).topics[topic]
    if md.error is not None:
        raise KafkaException(md.error)
    emit({
        "topic": topic,
        "partitions": len(md.partitions),
        "replicationFactor": len(md.partitions[0].replicas),
    })


def produce(args):
    count = int(args["count"])
    sync = args.get("sync") == "true"
    for codec in args["codecs"].split(","):
        conf = {
            "bootstrap.servers": args["bootstrap"],
            "acks": "all",
            "compression.type": codec,
            "message.timeout.ms": 30000,
        }
        if "idempotent" in args:
            conf["enable.idempotence"] = args["idempotent"] == "true"
        producer = Producer(conf)
        target = f"{args['topic']}-{codec}"
        acked = []
        errors = []

        def delivered(err, msg):
            if err is not None:
                errors.append(str(err))
            else:
                acked.append({"topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset()})

        for i in range(count):
            producer.produce(
                target,
                key=f"k{i}",
                value=record_value(codec, i),
                headers=[("index", str(i)), ("codec", codec)],
                on_delivery=delivered,
            )
            if sync:
                producer.flush(40)
        left = producer.flush(40)
        if errors:
            fail(f"Cannot produce to {target}: {errors[0]}")
        if left:
            fail(f"Cannot produce to {target}: {left} records still unacknowledged")
        for a in acked:
            emit(a)


def consumer_conf(args, **extra):
    return {
        "bootstrap.servers": args["bootstrap"],
        "group.id": args["group"],
        "auto.offset.reset": "earliest",
        **extra,
    }


def record_json(msg):
    return {
        "topic": msg.topic(),
        "partition": msg.partition(),
        "offset": msg.offset(),
        "key": msg.key().decode() if msg.key() is not None else None,
        "value": msg.value().decode() if msg.value() is not None else None,
        "headers": headers_dict(msg.headers()),
    }


def consume(args):
    count = int(args["count"])
    consumer = Consumer(consumer_conf(args))
    consumer.subscribe([args["topic"]])
    seen = 0
    deadline = time.time() + 30
    while seen < count:
        if time.time() > deadline:
            fail(f"Cannot consume {count} records in 30 s: got {seen}")
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            fail(f"Cannot consume: {msg.error()}")
        emit(record_json(msg))
        seen += 1
    consumer.commit(asynchronous=False)
    consumer.close()


def member(args):
    consumer = Consumer(consumer_conf(
        args,
        **{"session.timeout.ms": int(args["session"]), "heartbeat.interval.ms": 500},
    ))

    def on_assign(c, partitions):
        # librdkafka's default assignors (range, roundrobin) are eager: this is the whole set.
        emit({"assigned": sorted(p.partition for p in partitions)})

    consumer.subscribe([args["topic"]], on_assign=on_assign)
    while True:
        msg = consumer.poll(0.2)
        if msg is not None and not msg.error():
            emit({"record": record_json(msg)})


def offsets(args):
    topic = args["topic"]
    commit = parse_commit(args["commit"])
    consumer = Consumer(consumer_conf(args))
    consumer.commit(
        offsets=[TopicPartition(topic, p, o) for p, o in commit.items()],
        asynchronous=False,
    )
    got = consumer.committed([TopicPartition(topic, p) for p in commit], timeout=20)
    consumer.close()
    emit({"consumerCommitted": {str(tp.partition): tp.offset for tp in got if tp.offset >= 0}})


if __name__ == "__main__":
    run(
        {"create": create, "produce": produce, "consume": consume, "member": member, "offsets": offsets},
        sys.argv,
    )
