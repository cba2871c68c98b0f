// packSequences: prompt + completion rows, left-padded into one batch, with the masks and indices the log-prob passes
// use. Every row's tokens must land in its own row (a packing bug here silently trains on padding).
import { disposePacked, packSequences, slicePacked } from '../src/train/sequences';

test('each row holds its own prompt and completion, left-padded, with masks and indices', () => {
  const p = packSequences([[1, 2], [3, 4, 5], [6]], [[7, 8, 9], [10], [11, 12]], 0, [1, 0.5, 0]);
  expect(p.T).toBe(5);
  expect(p.pad).toEqual([0, 1, 2]);
  expect(p.ids.toArray()).toEqual([
    [1, 2, 7, 8, 9],
    [0, 3, 4, 5, 10],
    [0, 0, 6, 11, 12],
  ]);
  expect(p.keyStart.toArray()).toEqual([0, 1, 2]);
  expect(p.targetStart.toArray()).toEqual([2, 4, 3]);
  expect(p.mask.toArray()).toEqual([
    [0, 0, 1, 1, 1],
    [0, 0, 0, 0, 0.5],
    [0, 0, 0, 0, 0],
  ]);
  const s = slicePacked(p, 1, 3);
  expect(s.pad).toEqual([1, 2]);
  expect(s.ids.shape).toEqual([2, 5]);
  expect((s.ids.toArray() as number[][])[1]).toEqual([0, 0, 6, 11, 12]);
  disposePacked(p);
});
