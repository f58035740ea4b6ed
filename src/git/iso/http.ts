/**
 * isomorphic-git's HttpClient over node:https, written here so that this
 * process controls what matters at 3 a.m.:
 *
 * - the CA (`ca` from GIT_SSL_CAINFO / http.sslCAInfo, iso/credentials.ts);
 * - the credential, sent as a Basic Authorization header and nowhere else
 *   (never in a URL, never in an error message);
 * - a deadline: past `deadlineAt` (epoch ms) the socket is destroyed, in
 *   the TLS handshake as much as mid-body, and the request fails with
 *   `HttpDeadlineError`; a stall with no byte for `idleMs` does the same;
 * - https only, no redirects followed (a hub that redirects elsewhere is
 *   refused, the credential is never sent to another host).
 */
import { request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';
import { GitError } from '../exec.js';
import { redactUrl } from '../url.js';
import type { Credential } from './credentials.js';

/** A request stopped at the deadline: a timed-out GitError (temporary, exit 75). */
export class HttpDeadlineError extends GitError {
  constructor(url: string, why: string) {
    super(`${redactUrl(url)}: ${why}`, ['fetch'], null, `fatal: unable to access '${redactUrl(url)}': ${why}\n`, true);
    this.name = 'HttpDeadlineError';
  }
}

export interface HttpOptions {
  /** PEM of the certificate authorities to trust; undefined: Node's default CAs. */
  ca?: string | Buffer;
  credential?: Credential | null;
  /** The host (`host[:port]`) the credential is for: never sent in a request to another host. */
  credentialHost?: string;
  /** Epoch ms after which every request is killed. */
  deadlineAt?: number | null;
  /** Kill a request that receives nothing for this long (default 60 s). */
  idleMs?: number;
  /** Called with each request's url (redacted) and status, for traces; never sees the credential. */
  onRequest?: (line: string) => void;
}

async function collect(body: GitHttpRequest['body']): Promise<Buffer> {
  if (!body) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array>) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** An async iterator over a response, which the deadline can still end. */
async function* chunks(res: IncomingMessage): AsyncGenerator<Uint8Array> {
  for await (const c of res) yield new Uint8Array(c as Buffer);
}

export function makeHttpClient(opts: HttpOptions = {}): HttpClient {
  const idleMs = opts.idleMs ?? 60_000;
  return {
    async request(req: GitHttpRequest): Promise<GitHttpResponse> {
      const url = new URL(req.url);
      if (url.protocol !== 'https:') throw new Error(`${redactUrl(req.url)}: only https hubs are supported by the isomorphic-git engine`);
      if (url.username || url.password) throw new Error(`${redactUrl(req.url)}: credentials in a hub URL are refused; put them in a credential store file or AGENTGIT_TOKEN`);
      const body = await collect(req.body);
      const headers: Record<string, string> = { ...(req.headers ?? {}) };
      if (opts.credential && (opts.credentialHost === undefined || url.host.toLowerCase() === opts.credentialHost.toLowerCase())) headers.Authorization = `Basic ${Buffer.from(`${opts.credential.username}:${opts.credential.password}`).toString('base64')}`;
      if (body.length > 0) headers['Content-Length'] = String(body.length);
      const left = opts.deadlineAt == null ? null : opts.deadlineAt - Date.now();
      if (left !== null && left <= 0) throw new HttpDeadlineError(req.url, 'the round deadline passed before the request');
      return new Promise<GitHttpResponse>((resolvePromise, reject) => {
        const r = httpsRequest(url, { method: req.method ?? 'GET', headers, ca: opts.ca, agent: false }, (res) => {
          const status = res.statusCode ?? 0;
          opts.onRequest?.(`${req.method ?? 'GET'} ${redactUrl(req.url)} ${status}`);
          if (status >= 300 && status < 400) {
            res.resume();
            reject(new Error(`${redactUrl(req.url)}: the hub redirects (HTTP ${status}); use the final URL`));
            return;
          }
          const outHeaders: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) outHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
          resolvePromise({ url: req.url, method: req.method ?? 'GET', headers: outHeaders, body: chunks(res), statusCode: status, statusMessage: res.statusMessage ?? '' });
        });
        let timer: NodeJS.Timeout | undefined;
        if (left !== null) {
          timer = setTimeout(() => r.destroy(new HttpDeadlineError(req.url, 'the round deadline passed; request stopped')), left);
          timer.unref();
        }
        r.setTimeout(idleMs, () => r.destroy(new HttpDeadlineError(req.url, `no answer for ${Math.round(idleMs / 1000)} s; request stopped`)));
        r.on('close', () => clearTimeout(timer));
        r.on('error', (e) => reject(e instanceof HttpDeadlineError ? e : Object.assign(new Error(`${redactUrl(req.url)}: ${e.message}`), { code: (e as NodeJS.ErrnoException).code })));
        req.signal?.addEventListener('abort', () => r.destroy(new HttpDeadlineError(req.url, 'aborted')));
        r.end(body);
      });
    },
  };
}
