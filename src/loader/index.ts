// The native-addon loader: libtorch discovery, prebuild selection, preloading. Depends on Node built-ins only, so the
// npm install hook (scripts/install.js) can use the compiled copy in dist/loader without loading the addon's types.
export * from './discover-libtorch';
export * from './elf-needed';
export * from './libtorch-files';
export * from './load-addon';
export * from './load-error';
export * from './prebuild-name';
export * from './preload';
export * from './python-torch';
export * from './select-prebuild';
export * from './toolchain';
