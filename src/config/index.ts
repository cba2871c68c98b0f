// The train command's configuration: schema, loading with overrides, YAML output and a field listing for --help.
export { trainConfigSchema } from './schema';
export type { TrainConfig } from './schema';
export { resolveConfig, ConfigError } from './resolve';
export type { ResolveOptions } from './resolve';
export { ConfigFileError } from './load-file';
export { configToYaml } from './to-yaml';
export { describeConfig } from './fields';
export type { FieldDescription } from './fields';
export { suggestKey, editDistance } from './suggest';
export { bundledConfigPath, BUNDLED_CONFIGS } from './bundled';
