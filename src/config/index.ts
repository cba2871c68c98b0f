// The commands' configuration: schemas, loading with overrides, YAML output and a field listing for --help.
export { trainConfigSchema } from './schema';
export type { TrainConfig } from './schema';
export { resolveConfig, resolveWith, ConfigError } from './resolve';
export type { ResolveOptions, ResolveWithOptions } from './resolve';
export { ConfigFileError } from './load-file';
export { configToYaml } from './to-yaml';
export { describeConfig } from './fields';
export type { FieldDescription } from './fields';
export { suggestKey, editDistance } from './suggest';
export { bundledConfigPath, BUNDLED_CONFIGS } from './bundled';
export {
  TRAIN_BASE, configFilePath, resolveTrainConfig, resolveSftConfig, resolveEvalConfig, resolveSaliencyConfig, runConfigBeside, helpFields,
  sftConfigSchema, evalConfigSchema, saliencyConfigSchema,
} from './commands';
export type { TrainConfigInput, SftConfig, SftConfigInput, EvalConfig, EvalConfigInput, SaliencyConfig, SaliencyConfigInput } from './commands';
