// TensorBoard event files (logging.tensorboard): runs/<name>/tb/events.out.tfevents.<time>.<host>.<pid>, read by
// `tensorboard --logdir runs`. Written here rather than with an npm package because none fits: the npm writers need
// TensorFlow's native library (@tensorflow/tfjs-node) or write tf.Example records, not events (@roboflow/tfrecords).
//
// The format: a TFRecord file, each record  uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)
// (little-endian), each data an Event protobuf (tensorflow/core/util/event.proto): wall_time = 1 (double),
// step = 2 (int64), file_version = 3 (string, "brain.Event:2" in the first record), summary = 5 (Summary: repeated
// Value value = 1; Value: tag = 1 (string), simple_value = 2 (float)), session_log = 7 (SessionLog: status = 1, START = 1).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { closeSynced } from './metrics';

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1; // Castagnoli polynomial, reflected
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli) of bytes. */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC32C_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The masked CRC of TFRecord framing: rotate right by 15, add 0xa282ead8 (mod 2^32). */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: length, its masked CRC, the data, the data's masked CRC. */
export function tfRecord(data: Uint8Array): Buffer {
  const head = Buffer.alloc(12);
  head.writeBigUInt64LE(BigInt(data.length), 0);
  head.writeUInt32LE(maskedCrc32c(head.subarray(0, 8)), 8);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(maskedCrc32c(data), 0);
  return Buffer.concat([head, data, tail]);
}

// --- protobuf encoding of the few fields used (wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32)

function varint(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`tensorboard: cannot encode ${n} as a varint`);
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Buffer.from(out);
}
const key = (field: number, wire: number) => varint(field * 8 + wire);
const bytesField = (field: number, data: Uint8Array) => Buffer.concat([key(field, 2), varint(data.length), data]);
const stringField = (field: number, s: string) => bytesField(field, Buffer.from(s, 'utf8'));
function doubleField(field: number, v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v, 0);
  return Buffer.concat([key(field, 1), b]);
}
function floatField(field: number, v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeFloatLE(v, 0);
  return Buffer.concat([key(field, 5), b]);
}

/** An Event with wall time (seconds), step and one more encoded field. */
function event(wallTime: number, step: number, field: Buffer): Buffer {
  return Buffer.concat([doubleField(1, wallTime), key(2, 0), varint(step), field]);
}

/** Event.summary with one simple_value per tag. */
export function scalarEvent(wallTime: number, step: number, values: [string, number][]): Buffer {
  const summary = Buffer.concat(values.map(([tag, v]) => bytesField(1, Buffer.concat([stringField(1, tag), floatField(2, v)]))));
  return event(wallTime, step, bytesField(5, summary));
}

/** The tag of a metric, as TRL's TensorBoard logs show it: train/<key>, eval/… kept as is. */
export const tensorboardTag = (k: string): string => (k.startsWith('eval/') ? k : `train/${k}`);

export class TensorBoardWriter {
  readonly file: string;
  private fd: number | undefined;

  /** Creates a new event file in dir (one per invocation: TensorBoard reads every file of the folder). */
  constructor(dir: string, private readonly clock: () => number = Date.now) {
    fs.mkdirSync(dir, { recursive: true });
    const now = clock();
    this.file = path.join(dir, `events.out.tfevents.${Math.floor(now / 1000)}.${os.hostname()}.${process.pid}`);
    this.fd = fs.openSync(this.file, 'a');
    this.append(event(now / 1000, 0, stringField(3, 'brain.Event:2')));
  }

  /**
   * A resumed run continues at `step`: TensorBoard drops the events of earlier invocations from this step on (a run
   * that crashed after its checkpoint logged steps that are now done again).
   */
  resumeAt(step: number): void {
    this.append(event(this.clock() / 1000, step, bytesField(7, Buffer.from([0x08, 0x01]))));
  }

  /** The numbers of a metrics row (but `step`) as scalars at `step`. */
  write(step: number, row: Record<string, unknown>): void {
    const values = Object.entries(row).filter((e): e is [string, number] => e[0] !== 'step' && typeof e[1] === 'number');
    if (values.length > 0) this.append(scalarEvent(this.clock() / 1000, step, values.map(([k, v]) => [tensorboardTag(k), v])));
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    closeSynced(fd);
  }

  private append(data: Buffer): void {
    if (this.fd === undefined) throw new Error(`TensorBoardWriter(${this.file}): write after close`);
    fs.writeSync(this.fd, tfRecord(data));
  }
}
