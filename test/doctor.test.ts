// `atman-native doctor` explains which binary it chose and why: the loader's report, printed.
import { doctorReport, printDoctor } from '../src/cli/doctor';

test('doctor names the binary loaded, why, the libtorch search and every candidate', () => {
  const r = doctorReport();
  expect(r.addon).toBe(r.load.chosen!.file);
  expect(r.load.candidates.filter((c) => c.outcome === 'loaded').map((c) => c.file)).toEqual([r.addon]);
  const lines: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((text: string) => void lines.push(...text.split('\n')));
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  try {
    printDoctor(r);
  } finally {
    log.mockRestore();
    warn.mockRestore();
  }
  expect(lines).toContain(`  addon loaded     ${r.addon} (${r.load.chosen!.kind})`);
  expect(lines).toContain(`  chosen because   ${r.load.chosen!.why}`);
  expect(lines.find((l) => l.startsWith('  libtorch search  '))).toBe(`  libtorch search  ${r.load.libtorchSearch[0]}`);
  for (const step of r.load.libtorchSearch) expect(lines.some((l) => l.trim().endsWith(step))).toBe(true);
  for (const c of r.load.candidates) expect(lines.some((l) => l.includes(`${c.outcome.padEnd(9)} `) && l.endsWith(`: ${c.reason}`))).toBe(true);
});
