// Reads a policy configuration file (YAML or JSON) from disk; the engine only sees the result.
// Problems name the file and the line: a YAML error whole, with the library's excerpt of the
// line, and a schema problem at the line where its field is written.
import { readFileSync } from 'node:fs';
import type { Node } from 'yaml';
import { yamlLibrary } from './yaml-library.js';
import { ConfigError, defaultConfig, resolveConfig } from '../engine/config.js';
import type { PolicyConfig } from '../engine/types.js';
import { deepestOffset } from './manifests.js';

export function loadConfigFile(path: string | undefined): PolicyConfig {
  if (!path) return defaultConfig();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `${path}: cannot read config file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  return parseConfigText(text, path);
}

/** Parses and checks a configuration document; `path` names it in errors. */
export function parseConfigText(text: string, path: string): PolicyConfig {
  const { LineCounter, parseDocument } = yamlLibrary();
  const counter = new LineCounter();
  // logLevel 'error': the library's warnings would go to stderr; problems are thrown here instead.
  const doc = parseDocument(text, { lineCounter: counter, logLevel: 'error', prettyErrors: true });
  if (doc.errors.length) {
    const [first] = doc.errors;
    const pos = first.linePos?.[0] ?? counter.linePos(first.pos[0]);
    const more =
      doc.errors.length > 1
        ? `\n(and ${doc.errors.length - 1} more YAML problem${doc.errors.length > 2 ? 's' : ''})`
        : '';
    throw new ConfigError(`${path}:${pos.line}:${pos.col}: not valid YAML: ${first.message.trimEnd()}${more}`);
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  try {
    return resolveConfig(value ?? {}, path);
  } catch (err) {
    if (!(err instanceof ConfigError) || err.problems.length === 0) throw err;
    const root = doc.contents as Node | null;
    const located = err.problems.map((p) => {
      const offset = root ? deepestOffset(root, p.path) : undefined;
      return `${path}${offset === undefined ? '' : `:${counter.linePos(offset).line}`}: ${p.message}`;
    });
    throw new ConfigError(located.join('\n'), err.problems);
  }
}
