/**
 * Fetch, push and ls-remote over https with isomorphic-git and this
 * package's HttpClient (iso/http.ts): credential from AGENTGIT_TOKEN or
 * git's credential store, CA from GIT_SSL_CAINFO / http.sslCAInfo
 * (iso/credentials.ts), every request killed at the round's deadline.
 * ssh hubs are not supported by this engine: a clear error says so.
 */
import * as fs from 'node:fs';
import { readFileSync } from 'node:fs';
import { GitError } from '../exec.js';
import { ZERO_OID as ZERO } from '../objects.js';
import { redactUrl } from '../url.js';
import { caFileFor, credentialFor } from './credentials.js';
import { makeHttpClient, type HttpOptions } from './http.js';
import { loadIso } from './load.js';

/** An ssh (or other) hub URL: this engine has no such transport (a permanent failure, exit 1). */
export class UnsupportedHubError extends GitError {
  constructor(url: string) {
    const message = `${redactUrl(url)}: the isomorphic-git engine reaches https and file hubs only; install git for an ssh hub (or use the hub's https URL)`;
    super(message, ['fetch'], 128, `${message}\n`, false);
    this.name = 'UnsupportedHubError';
  }
}

/**
 * Any failure of a hub request as the GitError git would have given, so
 * errors.ts classifies it as it does git's (credentials refused: exit 1;
 * hub unreachable or failing on its side: exit 75). Never holds a secret:
 * URLs are redacted and the credential is only ever in a header.
 */
export function hubError(op: string, url: string, e: unknown): GitError {
  if (e instanceof GitError) return e;
  const u = redactUrl(url);
  const status = (e as { data?: { statusCode?: number } }).data?.statusCode;
  const msg = (e as Error).message ?? String(e);
  let stderr: string;
  if (status === 404) stderr = `fatal: repository '${u}/' not found\n`;
  else if (status) stderr = `fatal: unable to access '${u}/': The requested URL returned error: ${status}\n`;
  else if ((e as { code?: string }).code && /^E[A-Z]+$/.test((e as { code: string }).code)) stderr = `fatal: unable to access '${u}/': Failed to connect: ${msg}\n`;
  else if (/certificate|self[- ]signed|TLS|SSL/i.test(msg)) stderr = `fatal: unable to access '${u}/': SSL certificate problem: ${msg}\n`;
  else stderr = `fatal: ${msg}\n`;
  return new GitError(`git ${op} failed: ${stderr.replace(/^fatal: /, '').trim()}`, [op], 128, stderr, false);
}

/** What kind of hub a URL names for this engine. */
export function hubKind(url: string): 'https' | 'file' | 'unsupported' {
  if (/^https:\/\//i.test(url)) return 'https';
  if (url.startsWith('/') || /^file:\/\//i.test(url)) return 'file';
  return 'unsupported';
}

export interface TransportOptions {
  /** The local repository's git dir (its config may name a credential store or CA), null before one exists. */
  gitDir: string | null;
  /** Epoch ms: every request is killed after it. */
  deadlineAt?: number | null;
  env?: NodeJS.ProcessEnv;
  onRequest?: HttpOptions['onRequest'];
}

/** The HttpClient for `url` with its credential and CA, read now. */
export function httpFor(url: string, o: TransportOptions): ReturnType<typeof makeHttpClient> {
  const env = o.env ?? process.env;
  const caFile = caFileFor(url, o.gitDir, env);
  let ca: Buffer | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile);
    } catch (e) {
      throw new Error(`${caFile}: cannot read the CA file named by GIT_SSL_CAINFO or http.sslCAInfo (${(e as NodeJS.ErrnoException).code ?? 'error'}); fix the path or unset it`);
    }
  }
  return makeHttpClient({ ca, credential: credentialFor(url, o.gitDir, env), credentialHost: new URL(url).host, deadlineAt: o.deadlineAt ?? null, onRequest: o.onRequest });
}

/** The hub's refs: name -> id (branches only when `heads`). */
export async function lsRemoteHttps(url: string, o: TransportOptions, prefix = 'refs/heads/'): Promise<Map<string, string>> {
  const git = await loadIso();
  const refs = await git.listServerRefs({ http: httpFor(url, o), url, prefix, protocolVersion: 1 });
  return new Map(refs.map((r) => [r.ref, r.oid]));
}

/** Fetch `branch` from the hub into `refs/remotes/<remote>/<branch>`; returns the hub's id of it (null when the hub has no such branch). */
export async function fetchHttps(gitDir: string, url: string, branch: string, o: Omit<TransportOptions, 'gitDir'> & { remote?: string } = {}): Promise<string | null> {
  const git = await loadIso();
  const remote = o.remote ?? 'origin';
  const http = httpFor(url, { ...o, gitDir });
  try {
    const r = await git.fetch({ fs, http, gitdir: gitDir, url, remote, ref: branch, remoteRef: branch, singleBranch: true, tags: false });
    return r.fetchHead ?? null;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'NoRefspecError') throw new Error(`${gitDir}/config: remote "${remote}" has no fetch refspec; add one: remote.${remote}.fetch = +refs/heads/*:refs/remotes/${remote}/*`);
    if (code === 'NotFoundError' && /remote ref|Could not find/i.test((e as Error).message)) return null;
    throw e;
  }
}

export type PushOutcome = { ok: true; old: string | null } | { ok: false; reason: 'stale' | 'rejected'; actual: string | null; message: string };

/**
 * Push local ref `localRef` (a full ref name) to the hub's `remoteRef`,
 * only if the hub's `remoteRef` is `expected` now (null: must not exist):
 * the check is made on the hub's own advertisement, and the receive-pack
 * command carries that id as the old value, so the hub refuses it too if
 * the ref moved in between (compare-and-swap on the hub's side). `anyOld`:
 * no lease (a forced push of a heartbeat ref). `remove`: delete the hub's
 * ref instead (`localRef` unused; ok when it does not exist).
 */
export async function pushHttps(gitDir: string, url: string, localRef: string, remoteRef: string, expected: string | null, o: Omit<TransportOptions, 'gitDir'> & { anyOld?: boolean; remove?: boolean; onMessage?: (line: string) => void } = {}): Promise<PushOutcome> {
  const git = await loadIso();
  const http = httpFor(url, { ...o, gitDir });
  let seen: string | null = null;
  try {
    const r = await git.push({
      fs,
      http,
      gitdir: gitDir,
      url,
      ref: localRef,
      remoteRef,
      force: true, // the lease below is the guard, as git's --force-with-lease
      // what the hub says on the side band (a pre-receive hook's message): git shows it as `remote: …`
      onMessage: (m: string) => {
        for (const line of m.split(/\r?\n|\r/)) if (line.trim()) o.onMessage?.(line.trimEnd());
      },
      delete: o.remove === true,
      onPrePush: ({ remoteRef: rr }) => {
        seen = rr.oid === ZERO ? null : rr.oid;
        if (o.remove && seen === null) return false; // nothing to delete: done
        return o.anyOld === true || seen === expected;
      },
    });
    const st = r.refs[remoteRef];
    if (!r.ok || (st && !st.ok)) return { ok: false, reason: 'rejected', actual: seen, message: st?.error ?? r.error ?? 'rejected by the hub' };
    return { ok: true, old: seen };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'UserCanceledError' && o.remove && seen === null) return { ok: true, old: null };
    if (code === 'UserCanceledError') return { ok: false, reason: 'stale', actual: seen, message: `stale info: ${remoteRef} is ${seen ?? 'absent'} on the hub, expected ${expected ?? 'absent'}` };
    if (code === 'GitPushError' || code === 'PushRejectedError') return { ok: false, reason: 'rejected', actual: seen, message: (e as Error).message };
    throw e;
  }
}

