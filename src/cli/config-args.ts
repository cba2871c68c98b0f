// What every config-driven command does with its command line: everything but the command's own flags becomes a
// config override, checked by the command's schema (unknown names get the nearest valid one), and `--help` lists the
// schema's fields with the defaults that apply.
import type { Argv } from 'yargs';

import { helpFields } from '../config';

const YARGS_KEYS = ['_', '$0', 'help', 'version'];

/** 'init-config' → 'initConfig', as yargs spells the same flag. */
const camel = (key: string): string => key.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/**
 * The overrides of a parsed command line: every key but `own` (the command's flags that are not config fields).
 * yargs gives a kebab-case flag twice ('data-path' and 'dataPath'); the camelCase copy is kept.
 */
export function overridesFromArgv(argv: Record<string, unknown>, own: string[] = []): Record<string, unknown> {
  const skip = new Set([...YARGS_KEYS, ...own, ...own.map(camel)]);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(argv)) {
    if (skip.has(key) || value === undefined) continue;
    if (key.includes('-') && argv[camel(key)] !== undefined) continue;
    out[key] = value;
  }
  return out;
}

/** The `--help` epilogue listing a command's config fields. */
export function fieldsHelp(command: 'train' | 'sft' | 'eval' | 'saliency', intro: string): string {
  return `${intro}\n` + helpFields(command).map((f) => `  --${f.path} (${f.type}, default ${JSON.stringify(f.default) ?? 'none: required'}): ${f.help}`).join('\n');
}

/**
 * A flag shown in --help that is a short name of a config field. Typed as a string (never a yargs number, which turns
 * 'abc' into NaN): the schema converts and checks the value.
 */
export function shortFlag(y: Argv, name: string, describe: string): Argv {
  return y.option(name, { type: 'string', describe, requiresArg: true });
}
