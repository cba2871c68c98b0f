// TensorBoard event files: TFRecord framing with masked CRC-32C and Event protobufs, read back by an independent reader.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { TensorBoardWriter, crc32c, tensorboardTag } from '../src/log/tensorboard';
import { crc32cBitwise, decodeEvent, readRecords } from './tfevents_reader';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-tb-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('crc32c: the standard check value and agreement with a bitwise implementation', () => {
  expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283); // CRC-32C check value
  expect(crc32cBitwise(Buffer.from('123456789'))).toBe(0xe3069283);
  const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) % 256));
  expect(crc32c(bytes)).toBe(crc32cBitwise(bytes));
  expect(crc32c(Buffer.alloc(0))).toBe(0);
});

test('a file_version event, then one event per row with every number as a train/ scalar at its step', () => {
  let t = 1_700_000_000_000;
  const w = new TensorBoardWriter(path.join(dir, 'run', 'tb'), () => (t += 1000));
  w.write(2, { step: 2, loss: 0.25, reward: 0.6875, 'rewards/correct/mean': 0.5, note: 'text is skipped', 'eval/accuracy': 0.75 });
  w.write(4, { step: 4, loss: -1.5e-9, reward: NaN });
  w.resumeAt(3);
  w.close();
  w.close(); // twice is fine
  expect(path.basename(w.file)).toMatch(/^events\.out\.tfevents\.\d+\./);
  const events = readRecords(fs.readFileSync(w.file)).map(decodeEvent);
  expect(events).toHaveLength(4);
  expect(events[0]).toMatchObject({ step: 0, fileVersion: 'brain.Event:2' });
  expect(events[0].wallTime).toBeCloseTo(1_700_000_001, 3);
  expect(events[1].step).toBe(2);
  expect(events[1].scalars).toEqual({ 'train/loss': 0.25, 'train/reward': 0.6875, 'train/rewards/correct/mean': 0.5, 'eval/accuracy': 0.75 });
  expect(events[2].step).toBe(4);
  expect(events[2].scalars!['train/loss']).toBeCloseTo(-1.5e-9, 15); // float32
  expect(events[2].scalars!['train/reward']).toBeNaN();
  expect(events[3]).toMatchObject({ step: 3, sessionStatus: 1 }); // SessionLog START: TensorBoard drops steps >= 3 before it
  expect(() => w.write(5, { loss: 1 })).toThrow(/write after close/);
});

test('a damaged byte is caught by the data crc', () => {
  const w = new TensorBoardWriter(path.join(dir, 'damaged'));
  w.write(1, { loss: 1 });
  w.close();
  const buf = fs.readFileSync(w.file);
  buf[buf.length - 6] ^= 0xff;
  expect(() => readRecords(buf)).toThrow(/bad data crc/);
});

test('tags as TRL logs them: train/<key>, eval/<key> kept', () => {
  expect(tensorboardTag('reward')).toBe('train/reward');
  expect(tensorboardTag('eval/accuracy')).toBe('eval/accuracy');
});
