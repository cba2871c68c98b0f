// A reader of TensorBoard event files written independently of src/log/tensorboard.ts (bitwise CRC-32C, a generic
// protobuf field walker), to check what the writer wrote: the framing CRCs, then each Event's fields.

/** CRC-32C bit by bit (no table), to check the writer's table-driven one. */
export function crc32cBitwise(bytes: Uint8Array): number {
  let c = ~0 >>> 0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0x82f63b78 & -(c & 1));
  }
  return ~c >>> 0;
}

const masked = (crc: number) => ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;

/** The records of a TFRecord file; throws on a bad length or data CRC or a truncated record. */
export function readRecords(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + 12 > buf.length) throw new Error(`truncated record header at ${at}`);
    const len = Number(buf.readBigUInt64LE(at));
    if (buf.readUInt32LE(at + 8) !== masked(crc32cBitwise(buf.subarray(at, at + 8)))) throw new Error(`bad length crc at ${at}`);
    const data = buf.subarray(at + 12, at + 12 + len);
    if (data.length !== len || at + 16 + len > buf.length) throw new Error(`truncated record at ${at}`);
    if (buf.readUInt32LE(at + 12 + len) !== masked(crc32cBitwise(data))) throw new Error(`bad data crc at ${at}`);
    out.push(data);
    at += 16 + len;
  }
  return out;
}

type Field = { field: number; wire: number; value: number | bigint | Buffer };

function readVarint(b: Buffer, at: number): [bigint, number] {
  let v = 0n, shift = 0n;
  for (;;) {
    const byte = b[at++];
    v |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [v, at];
    shift += 7n;
  }
}

/** The fields of one protobuf message, in order (wire types 0, 1, 2, 5). */
export function fields(b: Buffer): Field[] {
  const out: Field[] = [];
  let at = 0;
  while (at < b.length) {
    const [key, next] = readVarint(b, at);
    at = next;
    const field = Number(key >> 3n), wire = Number(key & 7n);
    if (wire === 0) {
      const [v, n] = readVarint(b, at);
      out.push({ field, wire, value: v });
      at = n;
    } else if (wire === 1) {
      out.push({ field, wire, value: b.readDoubleLE(at) });
      at += 8;
    } else if (wire === 5) {
      out.push({ field, wire, value: b.readFloatLE(at) });
      at += 4;
    } else if (wire === 2) {
      const [len, n] = readVarint(b, at);
      out.push({ field, wire, value: b.subarray(n, n + Number(len)) });
      at = n + Number(len);
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}

export interface DecodedEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  /** Summary values: tag → simple_value. */
  scalars?: Record<string, number>;
  /** SessionLog status (1 = START). */
  sessionStatus?: number;
}

/** Event: wall_time 1, step 2, file_version 3, summary 5 (value 1: tag 1, simple_value 2), session_log 7 (status 1). */
export function decodeEvent(data: Buffer): DecodedEvent {
  const ev: DecodedEvent = { wallTime: NaN, step: 0 };
  for (const f of fields(data)) {
    if (f.field === 1) ev.wallTime = f.value as number;
    else if (f.field === 2) ev.step = Number(f.value);
    else if (f.field === 3) ev.fileVersion = (f.value as Buffer).toString('utf8');
    else if (f.field === 5) {
      ev.scalars = {};
      for (const v of fields(f.value as Buffer)) {
        const inner = fields(v.value as Buffer);
        const tag = (inner.find((x) => x.field === 1)!.value as Buffer).toString('utf8');
        ev.scalars[tag] = inner.find((x) => x.field === 2)!.value as number;
      }
    } else if (f.field === 7) ev.sessionStatus = Number(fields(f.value as Buffer).find((x) => x.field === 1)!.value);
  }
  return ev;
}
