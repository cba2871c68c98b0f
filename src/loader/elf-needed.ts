// The shared libraries an ELF file names as NEEDED, and its RUNPATH: enough of ELF to tell which libtorch files
// (libc10.so.1.13 of Debian or libc10.so of pip/zips) a prebuild will ask the dynamic linker for.
import * as fs from 'fs';

export interface ElfDynamic {
  needed: string[];
  runpath: string[];
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_RPATH = 15;
const DT_RUNPATH = 29;

/** Reads the dynamic section of a 64-bit little-endian ELF file; null for anything else or a damaged file. */
export function readElfDynamic(file: string): ElfDynamic | null {
  let b: Buffer;
  try {
    b = fs.readFileSync(file);
  } catch {
    return null;
  }
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) return null;
  try {
    const phoff = Number(b.readBigUInt64LE(0x20));
    const phentsize = b.readUInt16LE(0x36);
    const phnum = b.readUInt16LE(0x38);
    const loads: { vaddr: number; offset: number; size: number }[] = [];
    let dyn: { offset: number; size: number } | null = null;
    for (let i = 0; i < phnum; i++) {
      const p = phoff + i * phentsize;
      const type = b.readUInt32LE(p);
      const offset = Number(b.readBigUInt64LE(p + 8));
      const vaddr = Number(b.readBigUInt64LE(p + 16));
      const filesz = Number(b.readBigUInt64LE(p + 32));
      if (type === PT_LOAD) loads.push({ vaddr, offset, size: filesz });
      if (type === PT_DYNAMIC) dyn = { offset, size: filesz };
    }
    if (!dyn) return { needed: [], runpath: [] };
    const entries: [number, number][] = [];
    for (let p = dyn.offset; p + 16 <= dyn.offset + dyn.size; p += 16) {
      const tag = Number(b.readBigInt64LE(p));
      if (tag === 0) break;
      entries.push([tag, Number(b.readBigUInt64LE(p + 8))]);
    }
    const strtabAddr = entries.find(([t]) => t === DT_STRTAB)?.[1];
    const seg = loads.find((l) => strtabAddr !== undefined && strtabAddr >= l.vaddr && strtabAddr < l.vaddr + l.size);
    if (strtabAddr === undefined || !seg) return null;
    const strtab = strtabAddr - seg.vaddr + seg.offset;
    const str = (off: number) => {
      const start = strtab + off;
      const end = b.indexOf(0, start);
      return b.toString('utf8', start, end < 0 ? b.length : end);
    };
    const needed = entries.filter(([t]) => t === DT_NEEDED).map(([, v]) => str(v));
    const runpath = entries
      .filter(([t]) => t === DT_RUNPATH || t === DT_RPATH)
      .flatMap(([, v]) => str(v).split(':'))
      .filter(Boolean);
    return { needed, runpath };
  } catch {
    return null; // offsets outside the file: not an ELF we can read
  }
}
