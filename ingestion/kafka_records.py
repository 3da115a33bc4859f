"""A leaner unpacking of fetched record batches for kafka-python's consumer (2.3.x).

kafka-python turns every fetched record into two Python objects through a dozen property calls and a
function call per varint: ~6.5 us of the ~7.4 us of CPU its consumer spends per record here, the largest
single cost of the drain after the decode (a drain process spent 4.5 of its 12.3 s in ``poll``). For the
batches a topic of submissions holds, :func:`install` swaps in a generator that reads each record's
fields straight off the batch's bytes and yields the same ``ConsumerRecord`` values kafka-python would,
with the same bookkeeping (the fetch position advanced record by record, the leader epoch, the read
counts, the batch CRC check, control batches skipped, the partition drained at the end).

It takes a fetch only when every batch in it is of format v2 (any compression) and the consumer has
neither deserializers nor read_committed isolation (aborted transactions); anything else goes to
kafka-python's own code, unchanged. ``tests/ingestion/test_kafka_records.py`` checks the two against
each other field by field on batches with keys, null keys and values, headers, compression, control
and transactional batches, and on a real broker's fetches; the ingestion tests run through it.

A v2 record (https://kafka.apache.org/documentation/#record):
    length varint, attributes int8, timestampDelta varlong, offsetDelta varint,
    keyLength varint, key, valueLength varint, value, headerCount varint,
    headers: (keyLength varint, key utf-8, valueLength varint, value)*
every varint zigzag-encoded; a length of -1 is null.
"""

from __future__ import annotations

import logging
import struct

import kafka
from kafka.consumer import fetcher
from kafka.errors import CorruptRecordError
from kafka.record.default_records import DefaultRecordBatch

log = logging.getLogger(__name__)

SUPPORTED = ("2.3.",)  # the kafka-python versions whose fetcher internals this was written against
_BATCH_LENGTH = struct.Struct(">i")  # at byte 8 of a batch: its length after the first 12 bytes
_MAGIC_AT, _LOG_OVERHEAD = 16, 12
_ConsumerRecord = fetcher.ConsumerRecord
_new = tuple.__new__  # a namedtuple from a tuple, without its __new__'s argument binding
_original = None


def install() -> bool:
    """Use the lean unpacking in every kafka-python consumer of this process (idempotent). False, and
    kafka-python's own code stays, on a kafka-python version it was not written for."""
    global _original
    if _original is not None:
        return True
    if not kafka.__version__.startswith(SUPPORTED):
        log.warning("kafka-python %s: record batches unpacked by kafka-python itself (the lean unpacking "
                    "is written for %s)", kafka.__version__, ", ".join(f"{v}x" for v in SUPPORTED))
        return False
    _original = fetcher.Fetcher.PartitionRecords._unpack_records
    fetcher.Fetcher.PartitionRecords._unpack_records = _unpack_records
    return True


def _unpack_records(self, tp, records, key_deserializer, value_deserializer):
    """kafka-python's ``PartitionRecords._unpack_records`` (same arguments, same records)."""
    if key_deserializer or value_deserializer or self.isolation_level != fetcher.READ_UNCOMMITTED \
            or not _all_v2(records._buffer):
        return _original(self, tp, records, key_deserializer, value_deserializer)
    return _unpack_v2(self, tp, records)


def _all_v2(buffer) -> bool:
    """Every complete batch in the fetched bytes is of format v2 (magic 2); a truncated last one is
    left to MemoryRecords, which stops before it either way. A length that cannot be a batch's is left
    to kafka-python's code too, which raises its error for it."""
    pos, end = 0, len(buffer)
    while pos + _MAGIC_AT < end:
        length = _BATCH_LENGTH.unpack_from(buffer, pos + 8)[0]
        if buffer[pos + _MAGIC_AT] != 2 or length <= _MAGIC_AT - _LOG_OVERHEAD:
            return False
        pos += _LOG_OVERHEAD + length
    return True


def _unpack_v2(self, tp, records):
    try:
        batch, last = records.next_batch(), None
        while batch is not None:
            last = batch
            if self.check_crcs and not batch.validate_crc():
                raise CorruptRecordError(f"Record batch for partition {self.topic_partition} at offset "
                                         f"{batch.base_offset} failed crc check")
            self.leader_epoch = batch.leader_epoch
            if batch.is_control_batch:  # a transaction's marker: never a consumer's record
                self.next_fetch_offset = batch.next_offset
            else:
                yield from _batch_records(self, tp, batch)
            batch = records.next_batch()
        if last is not None:  # the next fetch starts after the batch, even if compaction removed its end
            self.next_fetch_offset = last.next_offset
        self.drain()
    except StopIteration:  # as kafka-python: a StopIteration inside a generator would end it silently
        log.exception("StopIteration raised unpacking messageset")
        raise RuntimeError("StopIteration raised unpacking messageset") from None


def _batch_records(self, tp, batch):
    """The records of one v2 batch as ConsumerRecords, read off its (decompressed) bytes."""
    batch._maybe_uncompress()
    buf, pos = batch._buffer, batch._pos
    view = memoryview(buf)  # slices of a view are not copies: each key and value is copied once, by bytes()
    header = batch._header_data  # base offset, ..., attributes, last offset delta, first ts, max ts, ...
    base_offset, first_ts, max_ts = header[0], header[7], header[8]
    ts_type = 1 if header[5] & DefaultRecordBatch.TIMESTAMP_TYPE_MASK else 0
    topic, partition, epoch = tp.topic, tp.partition, self.leader_epoch
    try:
        for _ in range(batch._num_records):
            length, pos = _varint(buf, pos)
            start = pos
            _, pos = _varint(buf, pos)  # attributes: unused in v2 (read as kafka-python reads them)
            ts_delta, pos = _varint(buf, pos)
            offset_delta, pos = _varint(buf, pos)
            key_len, pos = _varint(buf, pos)
            if key_len >= 0:
                key, pos = bytes(view[pos:pos + key_len]), pos + key_len
            else:
                key = None
            value_len, pos = _varint(buf, pos)
            if value_len >= 0:
                value, pos = bytes(view[pos:pos + value_len]), pos + value_len
            else:
                value = None
            headers, header_size, pos = _headers(buf, pos)
            if pos - start != length:
                raise CorruptRecordError(f"Invalid record size: expected to read {length} bytes in record "
                                         f"payload, but instead read {pos - start}")
            offset = base_offset + offset_delta
            self.records_read += 1
            self.bytes_read += length
            self.next_fetch_offset = offset + 1
            yield _new(_ConsumerRecord, (topic, partition, epoch, offset, max_ts if ts_type else first_ts + ts_delta,
                                         ts_type, key, value, headers, None, len(key) if key is not None else -1,
                                         len(value) if value is not None else -1, header_size))
    except (ValueError, IndexError) as err:
        raise CorruptRecordError(f"Found invalid record structure: {err!r}") from None
    finally:
        view.release()
    if pos != len(buf):
        raise CorruptRecordError(f"{len(buf) - pos} unconsumed bytes after all records consumed")


def _headers(buf, pos):
    """(headers as [(key, value)], their serialized size or -1 when none, position after them)."""
    count, pos = _varint(buf, pos)
    if count == 0:
        return [], -1, pos
    if count < 0:
        raise CorruptRecordError(f"Found invalid number of record headers {count}")
    headers, size = [], 0
    for _ in range(count):
        k_len, pos = _varint(buf, pos)
        if k_len < 0:
            raise CorruptRecordError(f"Invalid negative header key size {k_len}")
        h_key = buf[pos:pos + k_len].decode("utf-8")
        pos += k_len
        v_len, pos = _varint(buf, pos)
        h_value = bytes(buf[pos:pos + v_len]) if v_len >= 0 else None
        pos += max(v_len, 0)
        headers.append((h_key, h_value))
        size += len(h_key.encode("utf-8")) + (v_len if v_len >= 0 else 0)
    return headers, size, pos


def _varint(buf, pos):
    """A zigzag varint at ``pos``: (value, position after it). One byte holds -64..63, the usual case."""
    b = buf[pos]
    if b < 0x80:
        return (b >> 1) ^ -(b & 1), pos + 1
    value, shift = b & 0x7F, 7
    while True:
        pos += 1
        b = buf[pos]
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return (value >> 1) ^ -(value & 1), pos + 1
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")
