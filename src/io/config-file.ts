// Reads a policy configuration file (YAML or JSON) from disk; the engine only sees the result.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigError, defaultConfig, resolveConfig } from '../engine/config.js';
import type { PolicyConfig } from '../engine/types.js';

export function loadConfigFile(path: string | undefined): PolicyConfig {
  if (!path) return defaultConfig();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: cannot read config file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  return resolveConfig(doc ?? {}, path);
}
