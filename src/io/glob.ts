// Globs for `--exclude`: a small translation to a regular expression. Node's path.matchesGlob
// exists on Node 20.20 but is experimental there and prints an ExperimentalWarning to stderr
// on first use, which a CI tool must not; test/manifests.test.ts checks that both agree.
//
// Paths use `/`. `*` matches within one path segment, `**` (a whole segment) any number of
// segments, `?` one character other than `/`, `[abc]`, `[a-z]`, `[!a]` one character of a
// set, `{a,b}` either alternative; a backslash escapes the next character.

/** The regular expression a glob matches whole paths with. Throws on an unclosed `[` or `{`. */
export function globToRegExp(glob: string): RegExp {
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`bad glob "${glob}": ${why}`);
  };
  const translate = (stopAt: string): string => {
    let out = '';
    while (i < glob.length) {
      const c = glob[i];
      if (stopAt.includes(c)) return out;
      i++;
      if (c === '\\') {
        if (i >= glob.length) fail('ends with a backslash');
        out += escapeRegExp(glob[i++]);
      } else if (c === '*') {
        if (glob[i] === '*') {
          const atStart = i - 1 === 0 || glob[i - 2] === '/';
          i++;
          const atEnd = i === glob.length || glob[i] === '/' || stopAt.includes(glob[i]);
          if (atStart && atEnd) {
            if (glob[i] === '/') {
              i++;
              out += '(?:[^/]+/)*'; // `**/`: zero or more whole folders
            } else {
              out += '.*';
            }
            continue;
          }
        }
        out += '[^/]*';
      } else if (c === '?') {
        out += '[^/]';
      } else if (c === '[') {
        const end = glob.indexOf(']', i + 1);
        if (end < 0) fail('unclosed [');
        let set = glob.slice(i, end);
        i = end + 1;
        const negated = set.startsWith('!') || set.startsWith('^');
        if (negated) set = set.slice(1);
        const body = set.replace(/[\\\]^]/g, '\\$&');
        out += negated ? `[^${body}/]` : `[${body}]`;
      } else if (c === '{') {
        const alternatives: string[] = [];
        for (;;) {
          alternatives.push(translate(',}'));
          if (i >= glob.length) fail('unclosed {');
          if (glob[i++] === '}') break;
        }
        out += `(?:${alternatives.join('|')})`;
      } else {
        out += escapeRegExp(c);
      }
    }
    return out;
  };
  const source = translate('');
  return new RegExp(`^${source}$`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** A set of globs; `matches` takes a path relative to the folder walked, with `/` separators. */
export class GlobSet {
  private readonly patterns: RegExp[];

  constructor(globs: readonly string[]) {
    // A leading `./` names the same paths as without it.
    this.patterns = globs.map((g) => globToRegExp(g.replace(/^(\.\/)+/, '')));
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  matches(relativePath: string): boolean {
    return this.patterns.some((p) => p.test(relativePath));
  }
}
