/**
 * Remote URLs: the one place that says whether a URL carries a credential,
 * and that redacts one from anything agentgit prints.
 *
 * Any user info in a URL with a scheme is a credential (`https://user@host`,
 * `https://ghp_…@host`, `https://u:p@host`): git sends it to the server and
 * keeps it in .git/config in clear. Except the ssh user name: in scp-style
 * `git@github.com:me/x.git` and `ssh://git@host/…`, `git@` names the account
 * ssh logs in as, and the key stays in ~/.ssh. A password in an ssh URL
 * (`ssh://u:p@host`) is a credential again.
 */

const SSH_SCHEMES = /^(?:ssh|git\+ssh|ssh\+git)$/i;

/** The user info of a URL with a scheme, or null (none, scp-style, a path). */
function userinfoOf(url: string): { scheme: string; info: string } | null {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)/i.exec(url.trim());
  if (!m) return null;
  const authority = m[2]!;
  const at = authority.lastIndexOf('@');
  if (at < 0) return null;
  return { scheme: m[1]!, info: authority.slice(0, at) };
}

/** Does this URL carry a credential (a user name, token or password outside ssh's user name)? */
export function urlHasCredentials(url: string): boolean {
  const u = userinfoOf(url);
  if (!u) return false;
  if (SSH_SCHEMES.test(u.scheme) && !u.info.includes(':')) return false;
  return true;
}

/** The URL with its credential replaced: `https://***@host/x.git`. Other URLs unchanged. */
export function redactUrl(url: string): string {
  if (!urlHasCredentials(url)) return url;
  const u = userinfoOf(url)!;
  const start = url.indexOf('://') + 3;
  return `${url.slice(0, start)}***${url.slice(start + u.info.length)}`;
}

/** The URL without its user info: what to give git instead, with the token in a credential helper. */
export function stripUserinfo(url: string): string {
  const u = userinfoOf(url);
  if (!u) return url;
  const start = url.indexOf('://') + 3;
  return `${url.slice(0, start)}${url.slice(start + u.info.length + 1)}`;
}

/** Every URL credential in a text (git's stderr, a note, an error) replaced by `***`. */
export function redactUrlsIn(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*):\/\/([^\s/?#'"`<>]+)@/gi, (m, scheme: string, info: string) => {
    if (SSH_SCHEMES.test(scheme) && !info.includes(':')) return m;
    return `${scheme}://***@`;
  });
}

/** The one-line refusal for a URL with a credential (init, clone, --remote). */
export function credentialUrlMessage(url: string): string {
  const clean = stripUserinfo(url);
  return `the remote URL ${redactUrl(url)} carries a user name, token or password, which git would store in clear in .git/config; use ${clean} and keep the token in a credential helper (\`git config --global credential.helper store\`, then one \`git ls-remote ${clean}\` to enter it), or use ssh with a deploy key`;
}
