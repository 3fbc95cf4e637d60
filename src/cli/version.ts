import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
  repository?: string | { url?: string };
};
export const VERSION: string = pkg.version;

/** The GitHub repository's web address from package.json (`github:owner/name` or a git URL), if it names one. */
export const REPOSITORY_URL: string | undefined = (() => {
  const raw = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
  const m =
    raw && /^(?:github:|git\+https:\/\/github\.com\/|https:\/\/github\.com\/)?([\w.-]+\/[\w.-]+?)(?:\.git)?$/.exec(raw);
  return m ? `https://github.com/${m[1]}` : undefined;
})();
