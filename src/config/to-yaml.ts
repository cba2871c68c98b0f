// The resolved config as YAML, for the run directory (loads back with resolveConfig({ file })).
import { stringify } from 'yaml';
import { TrainConfig } from './schema';

export function configToYaml(c: TrainConfig): string {
  return `# atman-native train config (resolved: defaults, file and overrides)\n${stringify(c, { lineWidth: 0 })}`;
}
