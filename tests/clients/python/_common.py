"""What the Python drivers of the client matrix (tests/clients/_matrix.ts) share: the
command line (`<step> key=value…`), one JSON object per stdout line, and the records."""
import json
import sys

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PAD = "abcdefghij" * 10


def record_value(codec, i):
    """The value of record i of the codec's batch (compressible, as every driver writes it)."""
    return f"{codec} record {i} {PAD}"


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def fail(message):
    emit({"error": message})
    sys.exit(1)


def parse_args(argv):
    """(step, {key: value}) from `step key=value…`."""
    if len(argv) < 2:
        fail("Cannot run the driver: no command given (create, produce, consume, member, offsets)")
    args = {}
    for a in argv[2:]:
        key, eq, value = a.partition("=")
        if not eq:
            fail(f'Cannot read argument "{a}": expected key=value')
        args[key] = value
    return argv[1], args


def parse_commit(spec):
    """{partition: offset} from "0:5,1:7"."""
    return {int(p): int(o) for p, o in (part.split(":") for part in spec.split(","))}


def headers_dict(headers):
    return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in (headers or [])}


def run(steps, argv):
    """Runs the named step, turning any exception into an error line and exit 1."""
    step, args = parse_args(argv)
    fn = steps.get(step)
    if fn is None:
        fail(f'Unknown command "{step}"')
    try:
        fn(args)
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - every failure becomes the step's error line
        fail(f"{type(e).__name__}: {e}")
    sys.exit(0)
