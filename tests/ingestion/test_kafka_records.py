"""The lean record unpacking (ingestion.kafka_records) against kafka-python's own, record for record.

Each case builds fetched bytes with kafka-python's record builders, unpacks them in a PartitionRecords
with kafka-python's code and with the lean code, and compares every field of every ConsumerRecord and
the state the fetcher reads afterwards (next fetch offset, leader epoch, counts, drained or not).
The ingestion tests run the lean code against a real broker.
"""

from __future__ import annotations

import random
import struct

import pytest
from crc32c import crc32c
from kafka.consumer import fetcher
from kafka.errors import CorruptRecordError
from kafka.record.memory_records import MemoryRecords, MemoryRecordsBuilder
from kafka.structs import TopicPartition

from ingestion import kafka_records

TP = TopicPartition("leap.test", 3)


@pytest.fixture(scope="module")
def stock():
    kafka_records.install()
    return kafka_records._original


def _batches(specs, magic=2, compression=0, start=0) -> bytes:
    """Fetched bytes: one batch per spec, a spec a list of (key, value, headers); offsets from ``start``."""
    out, offset = [], start
    for records in specs:
        b = MemoryRecordsBuilder(magic=magic, compression_type=compression, batch_size=1 << 30, offset=offset)
        for i, (key, value, headers) in enumerate(records):
            b.append(timestamp=1_700_000_000_000 + 37 * i, key=key, value=value,
                     headers=headers if magic == 2 else [])
        b.close()
        out.append(b.buffer())
        offset += len(records)
    return b"".join(out)


def _with_attributes(batch: bytes, bits: int) -> bytes:
    """A v2 batch with attribute bits set and its CRC-32C made again (it covers the bytes from the attributes)."""
    data = bytearray(batch)
    attrs = struct.unpack_from(">h", data, 21)[0] | bits
    struct.pack_into(">h", data, 21, attrs)
    struct.pack_into(">I", data, 17, crc32c(bytes(data[21:])))
    return bytes(data)


def _unpack(data: bytes, impl, fetch_offset=0, take=None, check_crcs=True):
    """(records, fetcher state) of a PartitionRecords over ``data`` unpacked by ``impl``."""
    saved = fetcher.Fetcher.PartitionRecords._unpack_records
    fetcher.Fetcher.PartitionRecords._unpack_records = impl
    try:
        part = fetcher.Fetcher.PartitionRecords(fetch_offset, TP, MemoryRecords(data), check_crcs=check_crcs)
        try:
            records = part.take(take)
        except Exception as exc:  # noqa: BLE001 - compared: the same error both ways
            return type(exc), str(exc).split(":")[0]
        state = (part.next_fetch_offset, part.leader_epoch, part.records_read, part.bytes_read,
                 part.record_iterator is None)
        return records, state
    finally:
        fetcher.Fetcher.PartitionRecords._unpack_records = saved


def _same(data: bytes, stock, **kw):
    lean = _unpack(data, kafka_records._unpack_records, **kw)
    assert lean == _unpack(data, stock, **kw)
    return lean


def _random_records(rng: random.Random, n: int):
    out = []
    for _ in range(n):
        key = None if rng.random() < 0.2 else rng.randbytes(rng.choice([0, 1, 12, 200]))
        value = None if rng.random() < 0.1 else rng.randbytes(rng.choice([0, 5, 63, 64, 700, 20_000]))
        headers = [(rng.choice(["trace", "é-ü", ""]), None if rng.random() < 0.3 else rng.randbytes(rng.randrange(90)))
                   for _ in range(rng.choice([0, 0, 1, 3]))]
        out.append((key, value, headers))
    return out


@pytest.mark.parametrize("compression", [0, 1, 2, 3, 4], ids=["none", "gzip", "snappy", "lz4", "zstd"])
def test_every_field_of_every_record_is_kafka_pythons(stock, compression):
    rng = random.Random(compression)
    data = _batches([_random_records(rng, n) for n in (1, 64, 65, 300, 7)], compression=compression, start=1_000)
    records, state = _same(data, stock, fetch_offset=1_000)
    assert len(records) == 437 and state[0] == 1_437 and state[-1]  # all read, position after the last, drained
    assert any(r.key is None for r in records) and any(r.headers for r in records)


def test_a_fetch_starting_inside_a_batch_and_a_partial_take_leave_the_same_position(stock):
    data = _batches([_random_records(random.Random(5), 50)] * 3)
    records, state = _same(data, stock, fetch_offset=70, take=40)
    assert [r.offset for r in records] == list(range(70, 110)) and state[0] == 110 and not state[-1]


def test_control_and_transactional_batches_are_treated_as_kafka_python_treats_them(stock):
    plain = _batches([_random_records(random.Random(1), 4)], start=0)
    control = _with_attributes(_batches([[(b"\x00\x00\x00\x01", b"", [])]], start=4), 0x20 | 0x10)
    transactional = _with_attributes(_batches([_random_records(random.Random(2), 3)], start=5), 0x10)
    records, state = _same(plain + control + transactional, stock)
    assert [r.offset for r in records] == [0, 1, 2, 3, 5, 6, 7] and state[0] == 8


def test_log_append_time_takes_the_batch_timestamp(stock):
    data = _with_attributes(_batches([_random_records(random.Random(3), 5)]), 0x08)
    records, _ = _same(data, stock)
    assert {r.timestamp_type for r in records} == {1} and len({r.timestamp for r in records}) == 1


@pytest.mark.parametrize("magic", [0, 1])
def test_older_formats_go_to_kafka_pythons_code(stock, magic):
    data = _batches([[(b"k", b"v", []), (None, b"w", [])]], magic=magic)
    assert not kafka_records._all_v2(data)
    records, _ = _same(data, stock)
    assert [r.value for r in records] == [b"v", b"w"]


def test_a_truncated_last_batch_is_left_for_the_next_fetch(stock):
    data = _batches([_random_records(random.Random(4), 10)] * 2)
    records, state = _same(data[:-25], stock)
    assert len(records) == 10 and state[0] == 10


@pytest.mark.parametrize("damage", ["crc", "record length"])
def test_corrupt_batches_raise_kafka_pythons_error(stock, damage):
    data = bytearray(_batches([[(b"key", b"value", [])]]))
    if damage == "crc":
        data[-1] ^= 0xFF
    else:  # the record's length varint (just after the 61-byte header) one byte too long, CRC made again
        data[61] += 2
        data = bytearray(_with_attributes(bytes(data), 0))
    err = _same(bytes(data), stock)
    assert err[0] is CorruptRecordError


def test_install_is_idempotent_and_keeps_kafka_pythons_code_for_fallback():
    assert kafka_records.install() and kafka_records.install()
    assert fetcher.Fetcher.PartitionRecords._unpack_records is kafka_records._unpack_records
    assert kafka_records._original is not kafka_records._unpack_records


def _consume_all(settings, impl) -> list:
    """Every record of the settings' topic, read by a kafka-python consumer whose fetches ``impl`` unpacks."""
    from kafka import KafkaConsumer

    saved = fetcher.Fetcher.PartitionRecords._unpack_records
    fetcher.Fetcher.PartitionRecords._unpack_records = impl
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    try:
        tps = [TopicPartition(settings.topic, p) for p in consumer.partitions_for_topic(settings.topic)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends, out = consumer.end_offsets(tps), []
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for records in consumer.poll(timeout_ms=500).values():
                out.extend(records)
        return sorted(out, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()
        fetcher.Fetcher.PartitionRecords._unpack_records = saved


@pytest.mark.skipif(__import__("shutil").which("kcat") is None, reason="kcat missing: `make setup` installs it")
def test_a_real_brokers_fetches_give_the_same_records(stock, platform, monkeypatch):
    """Apache Kafka's fetch responses: zstd batches from librdkafka (kcat), plain ones with headers and null
    keys from kafka-python; every record the same both ways."""
    import subprocess

    from kafka import KafkaProducer

    lines = b"".join(b"k%d\tvalue %d\n" % (i, i) for i in range(300))
    sent = subprocess.run(["kcat", "-P", "-b", platform.bootstrap_servers, "-t", platform.topic, "-K", "\t",
                           "-z", "zstd"], input=lines, capture_output=True, timeout=60)
    assert sent.returncode == 0, sent.stderr.decode()
    producer = KafkaProducer(bootstrap_servers=platform.bootstrap_servers, linger_ms=20)
    for i in range(300):
        producer.send(platform.topic, key=None if i % 3 else b"%d" % i, value=b"x" * i,
                      headers=[("n", b"%d" % i)] if i % 2 else [])
    producer.flush()
    producer.close()
    lean_fetches, lean_v2 = [], kafka_records._unpack_v2
    monkeypatch.setattr(kafka_records, "_unpack_v2", lambda *args: (lean_fetches.append(1), lean_v2(*args))[1])
    lean = _consume_all(platform, kafka_records._unpack_records)
    assert lean_fetches  # the broker's fetches took the lean path, not the fallback
    assert len(lean) == 600 and lean == _consume_all(platform, stock)


@pytest.mark.parametrize("length", [-40, 0])
def test_a_batch_length_that_cannot_be_is_left_to_kafka_python(stock, length):
    data = bytearray(_batches([[(b"key", b"value", [])]]))
    struct.pack_into(">i", data, 8, length)
    assert not kafka_records._all_v2(bytes(data))  # and the scan ends (a negative length walked it backwards)
    _same(bytes(data), stock)  # whatever kafka-python makes of it, error or not
