#!/usr/bin/python3
"""confluent-kafka-python (Debian's python3-confluent-kafka, on the system librdkafka) with
MSK IAM: SASL_SSL, OAUTHBEARER, each token made by aws-msk-iam-sasl-signer-python's
MSKAuthTokenProvider.generate_auth_token(region) in librdkafka's oauth_cb, as AWS's guide for
Python clients has it. Credentials come from the environment (AWS_ACCESS_KEY_ID, …), through
botocore's default chain, as on AWS. Run by tests/engine/broker_iam_python_test.ts with the
venv of tests/engines/msk-iam-python.txt.

Steps (`<step> key=value…`, one JSON object per stdout line; see _common.py):
  produce   bootstrap, ca, region, topic, count: writes value-0 … value-(count-1), acks=all
  consume   bootstrap, ca, region, topic, group, count: reads count records from the start
  metadata  bootstrap, ca, region: the topics it may see; a failed login is the step's
            error, carrying librdkafka's message"""
import time

from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer

from _common import emit, fail, run


def config(args, errors):
    """librdkafka's settings for MSK IAM; login failures land in `errors`."""
    region = args["region"]

    def oauth_cb(_oauth_config):
        token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
        return token, expiry_ms / 1000

    def error_cb(err):
        if err.code() == KafkaError._AUTHENTICATION:
            errors.append(err.str())

    return {
        "bootstrap.servers": args["bootstrap"],
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "OAUTHBEARER",
        "oauth_cb": oauth_cb,
        "ssl.ca.location": args["ca"],
        "error_cb": error_cb,
    }


def produce(args):
    errors = []
    producer = Producer({**config(args, errors), "acks": "all", "message.timeout.ms": 30000})
    acked = []
    failed = []

    def delivered(err, msg):
        if err is not None:
            failed.append(str(err))
        else:
            acked.append(msg.offset())

    count = int(args["count"])
    for i in range(count):
        producer.produce(args["topic"], value=f"value-{i}".encode(), on_delivery=delivered)
    producer.flush(40)
    if errors or failed or len(acked) != count:
        fail(f"produced {len(acked)} of {count}: {(errors + failed)[:3]}")
    emit({"acked": sorted(acked)})


def consume(args):
    errors = []
    consumer = Consumer({
        **config(args, errors),
        "group.id": args["group"],
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([args["topic"]])
    count = int(args["count"])
    got = []
    deadline = time.time() + 40
    while len(got) < count and time.time() < deadline and not errors:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error() is not None:
            raise KafkaException(msg.error())
        got.append(msg.value().decode())
    if len(got) == count:
        consumer.commit(asynchronous=False)
    consumer.close()
    if len(got) != count:
        fail(f"read {len(got)} of {count}: {errors[:3]}")
    emit({"values": got})


def metadata(args):
    errors = []
    producer = Producer(config(args, errors))
    deadline = time.time() + 30
    while time.time() < deadline and not errors:
        try:
            md = producer.list_topics(timeout=1)
            emit({"topics": sorted(md.topics)})
            return
        except KafkaException:
            producer.poll(0.2)  # serves error_cb
    fail(errors[0] if errors else "no metadata within 30 s")


if __name__ == "__main__":
    import sys

    run({"produce": produce, "consume": consume, "metadata": metadata}, sys.argv)
