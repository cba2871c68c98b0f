// One rank of a data-parallel test run, started by test/distributed_train.test.ts with torchrun's environment
// (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) as torchrun would start it. ATMAN_TEST_JOB (JSON) says what to run:
//   {kind: 'train', config, resume?, stopAfter?}  the trainer (compiled dist/), prints its outcome as JSON
//   {kind: 'collectives'}                          the tensor API on hand-made tensors, prints what each rank got
const { distributed, tensor, zeros } = require('../dist/index.js');
const { train } = require('../dist/train/trainer.js');

const quiet = { write: () => true, isTTY: false };

async function collectives() {
  await distributed.init();
  const rank = distributed.rank(), worldSize = distributed.worldSize();
  const out = { rank, worldSize };
  const t = tensor([rank + 1, -(rank + 1)]);
  out.sum = (await distributed.allReduce(t)).toArray();
  out.avg = (await distributed.allReduce(tensor([2 * rank]), 'avg')).toArray();
  out.max = (await distributed.allReduce(tensor([rank, -rank]), 'max')).toArray();
  out.min = (await distributed.allReduce(tensor([rank, -rank]), 'min')).toArray();
  out.broadcast = (await distributed.broadcast(tensor([[rank, rank], [rank, rank]]), worldSize - 1)).toArray();
  // Gradients: parameter 0 has rank + 1 everywhere, parameter 1 has no gradient on rank 0.
  const p0 = zeros([3], { requiresGrad: true }), p1 = zeros([2, 2], { requiresGrad: true });
  p0.mul(rank + 1).sum().backward();
  if (rank > 0) p1.mul(rank).sum().backward();
  await distributed.allReduceGradients([p0, p1], { bucketMb: 1e-5 }); // one bucket per parameter
  out.grads = [p0.grad.toArray(), p1.grad.toArray()];
  // Overlapped with backward: buckets leave while backward runs; the result is the same sum.
  const q0 = zeros([3], { requiresGrad: true }), q1 = zeros([2, 2], { requiresGrad: true });
  const reducer = new distributed.GradientReducer([q0, q1], { bucketMb: 1e-5 });
  q0.mul(rank).sum().backward(); // an earlier micro-batch: accumulated, not reduced
  reducer.arm();
  q0.mul(1).sum().add(q1.mul(rank + 1).sum()).backward();
  await reducer.finish();
  out.overlapped = [q0.grad.toArray(), q1.grad.toArray(), reducer.stats()];
  reducer.dispose();
  await distributed.barrier();
  try {
    await distributed.allReduce(tensor([1]).to('float64').reshape([1, 1]).expand([2, 2]).transpose(0, 1));
  } catch (e) {
    out.nonContiguous = e.message;
  }
  await distributed.barrier();
  distributed.destroy();
  return out;
}

(async () => {
  const job = JSON.parse(process.env.ATMAN_TEST_JOB);
  const result = job.kind === 'collectives'
    ? await collectives()
    : await train({ config: job.config, resume: job.resume, stopAfter: job.stopAfter, stream: quiet });
  process.stdout.write(`${JSON.stringify(result)}\n`);
})().catch((e) => {
  process.stderr.write(`rank ${process.env.RANK}: ${e.message}\n`);
  process.exit(1);
});
