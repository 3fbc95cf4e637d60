// The --config option as the offline commands share it: a bad file is exit 2 with the field named.
import { ConfigError } from '../engine/config.js';
import type { PolicyConfig } from '../engine/types.js';
import { loadConfigFile } from '../io/config-file.js';

export const EXIT_BAD_INPUT = 2;

/** The configuration, or undefined after reporting why it could not be loaded. */
export function loadConfigForCommand(
  command: string,
  path: string | undefined,
  kubevirtVersion?: string,
): PolicyConfig | undefined {
  try {
    const config = loadConfigFile(path);
    return kubevirtVersion ? { ...config, kubevirtVersion } : config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`nicguard ${command}: bad configuration:\n${err.message}\n`);
    process.exitCode = EXIT_BAD_INPUT;
    return undefined;
  }
}
