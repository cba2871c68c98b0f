// What the GPU benches share with their Python peers (scripts/peer_common.py): the random-input and mask settings,
// and the small measuring helpers.
export const VOCAB_IDS = 128000; // random ids are drawn below this (and below the model's vocabulary)
export const ANSWER_LEN = 16;    // the answer is the last 16 tokens of a row
export const SEED = 1234;
export const THETA_INIT = 5.0;   // θ₀: s = 0.9933 at the start
export const SUPPRESS_S = 1e-4;  // suppression multiplies a key's attention weight by this

export const gib = (bytes: number): number => Number((bytes / 2 ** 30).toFixed(3));
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
