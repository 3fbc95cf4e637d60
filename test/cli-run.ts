// Runs the built CLI as a child process, and a strict little XML reader for checking JUnit output.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT } from './support.js';

export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/src/cli/main.js ...args`; asynchronous so that independent runs overlap. */
export function nicguard(args: string[], options: { cwd?: string; input?: string } = {}): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill(), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolvePromise({ status, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

export function tempDir(prefix = 'nicguard-cli-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A fresh git repository in a temporary folder, and a function that runs git in it. */
export function gitRepo(): { repo: string; git: (...args: string[]) => string } {
  const repo = tempDir('nicguard-git-');
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.email=ci@example.com', '-c', 'user.name=CI', ...args], {
      cwd: repo,
      encoding: 'utf8',
    });
  git('init', '-q');
  return { repo, git };
}

/** Writes files (path -> text) under dir, creating folders; returns dir. */
export function writeTree(dir: string, files: Record<string, string>): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

export function exampleText(relPath: string): string {
  return readFileSync(join(ROOT, 'examples', relPath), 'utf8');
}

/** A stack trace in user-facing output means an unhandled error. */
export function hasStackTrace(text: string): boolean {
  return /\n\s+at .+\(.+:\d+:\d+\)/.test(text) || /\n\s+at file:\/\//.test(text);
}

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITY: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(raw: string, where: number): string {
  if (/<|&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(raw))
    throw new Error(`unescaped < or & near offset ${where}`);
  return raw.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (_m, e: string) =>
    e.startsWith('#x')
      ? String.fromCodePoint(parseInt(e.slice(2), 16))
      : e.startsWith('#')
        ? String.fromCodePoint(Number(e.slice(1)))
        : ENTITY[e],
  );
}

/**
 * Parses a document of elements, attributes, text, comments and an XML declaration; throws on
 * anything not well formed (mismatched or unclosed tags, unquoted or duplicate attributes,
 * raw < or & in text, content after the root). Enough to prove a report is valid XML.
 */
export function parseXml(text: string): XmlElement {
  let i = 0;
  const fail = (msg: string): never => {
    throw new Error(`${msg} at offset ${i}: ${JSON.stringify(text.slice(i, i + 40))}`);
  };
  const skipMisc = () => {
    for (;;) {
      const ws = /^\s*/.exec(text.slice(i))![0];
      i += ws.length;
      if (text.startsWith('<?', i)) {
        const end = text.indexOf('?>', i);
        if (end < 0) fail('unterminated processing instruction');
        i = end + 2;
      } else if (text.startsWith('<!--', i)) {
        const end = text.indexOf('-->', i);
        if (end < 0) fail('unterminated comment');
        i = end + 3;
      } else return;
    }
  };
  const NAME = /^[A-Za-z_:][-A-Za-z0-9_:.]*/;
  const element = (): XmlElement => {
    if (text[i] !== '<') fail('expected <');
    i++;
    const name = NAME.exec(text.slice(i))?.[0] ?? fail('bad element name');
    i += name.length;
    const el: XmlElement = { name, attrs: {}, children: [], text: '' };
    for (;;) {
      const ws = /^\s*/.exec(text.slice(i))![0];
      i += ws.length;
      if (text.startsWith('/>', i)) {
        i += 2;
        return el;
      }
      if (text[i] === '>') {
        i++;
        break;
      }
      if (!ws) fail('expected whitespace before attribute');
      const attr = NAME.exec(text.slice(i))?.[0] ?? fail('bad attribute name');
      i += attr.length;
      if (text[i] !== '=') fail('expected =');
      i++;
      const quote = text[i];
      if (quote !== '"' && quote !== "'") fail('unquoted attribute value');
      const end = text.indexOf(quote, i + 1);
      if (end < 0) fail('unterminated attribute value');
      if (attr in el.attrs) fail(`duplicate attribute ${attr}`);
      el.attrs[attr] = decode(text.slice(i + 1, end), i);
      i = end + 1;
    }
    for (;;) {
      if (i >= text.length) fail(`unclosed <${name}>`);
      if (text.startsWith('</', i)) {
        i += 2;
        const close = NAME.exec(text.slice(i))?.[0];
        if (close !== name) fail(`</${close}> closes <${name}>`);
        i += name.length;
        const ws = /^\s*/.exec(text.slice(i))![0];
        i += ws.length;
        if (text[i] !== '>') fail('expected >');
        i++;
        return el;
      }
      if (text.startsWith('<!--', i)) {
        const end = text.indexOf('-->', i);
        if (end < 0) fail('unterminated comment');
        i = end + 3;
      } else if (text.startsWith('<![CDATA[', i)) {
        const end = text.indexOf(']]>', i);
        if (end < 0) fail('unterminated CDATA');
        el.text += text.slice(i + 9, end);
        i = end + 3;
      } else if (text[i] === '<') {
        el.children.push(element());
      } else {
        const next = text.indexOf('<', i);
        const end = next < 0 ? text.length : next;
        el.text += decode(text.slice(i, end), i);
        i = end;
      }
    }
  };
  skipMisc();
  const root = element();
  skipMisc();
  if (i !== text.length) fail('content after the root element');
  return root;
}

export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}
