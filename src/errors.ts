/**
 * Every kind of failure agentgit reports, and the exit code it means:
 *
 *   0  ok
 *   1  failed, nothing lost: a person must act (the message says what)
 *   2  usage: a bad command line or a bad value
 *   75 temporary (EX_TEMPFAIL): the hub could not be reached or another
 *      sync held the lock; local work is committed, the next run retries
 *
 * Only network-level failures are temporary. A hub path that is no
 * repository, an ssh host alias found nowhere, refused credentials or a
 * repository the hub does not have are permanent: retrying every minute
 * would change nothing, so they exit 1 with the cause and the fix.
 *
 * Every class of failure lives here and carries its exit code
 * (`exitCode`); exitCodeOf maps them in one place. An error from elsewhere
 * is told by its `code` (EUSAGE 2, ETEMP and ELOCKED 75), a git failure by
 * classifyGitError, anything else is 1.
 */
import { GitError } from './git/exec.js';

export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, TEMPORARY: 75 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A bad command line or a bad value (exit 2). */
export class UsageError extends Error {
  readonly code = 'EUSAGE';
  readonly exitCode = EXIT.USAGE;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Temporary: the next run retries (exit 75). */
export class TemporaryError extends Error {
  readonly code = 'ETEMP';
  readonly exitCode = EXIT.TEMPORARY;
}

/** A person must act; `message` names the file or setting and the fix (exit 1). */
export class FailedError extends Error {
  readonly code = 'EFAILED';
  readonly exitCode = EXIT.FAILED;
}

/** `.agentgit/config.json` holds what cannot be used (exit 1; the message names the key). */
export class PolicyError extends Error {
  readonly code = 'EPOLICY';
  readonly exitCode = EXIT.FAILED;
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

/** A directory that is not (in) an agentgit repo (exit 1). */
export class NotAnAgentRepoError extends Error {
  readonly code = 'ENOTAGENT';
  readonly exitCode = EXIT.FAILED;
  /** `gitRoot`: the Git work tree found at or above `dir`, when there is one. */
  constructor(dir: string, gitRoot?: string) {
    super(
      gitRoot
        ? `${gitRoot} is a Git repo but not set up for agentgit: run \`agentgit init -C ${gitRoot}\` to adopt it (files and history are kept)`
        : `${dir} is not in an agentgit repo (no .git there or in any directory above): run \`agentgit init -C ${dir}\` (or \`agentgit clone URL ${dir}\`) first`,
    );
    this.name = 'NotAnAgentRepoError';
  }
}

/**
 * The key this repo is configured to sign with is gone (a machine restored
 * without $AGENTGIT_HOME, a deleted file). Never replaced silently: a new key
 * is a new identity that must be admitted again.
 */
export class MissingKeyError extends Error {
  readonly code = 'ENOKEY';
  readonly exitCode = EXIT.FAILED;
  constructor(
    readonly file: string,
    principal: string,
  ) {
    super(
      `the signing key of ${principal} is missing: ${file} does not exist. ` +
        `Put it back with \`agentgit identity import FILE\` (FILE: the key from a backup, or one \`agentgit identity export\` wrote); ` +
        `if it is lost for good, \`agentgit init --new-key\` makes a new one, which an admitted instance must then admit with \`agentgit trust add\``,
    );
    this.name = 'MissingKeyError';
  }
}

/** Another sync holds the lock (exit 75: this run did nothing, the next one goes on). */
export class LockBusyError extends Error {
  readonly code = 'ELOCKED';
  readonly exitCode = EXIT.TEMPORARY;
  constructor(
    /** `staleAt`: a lock from another host (`host`), taken over from then on. */
    readonly holder: { pid: number; since: number; host?: string; staleAt?: number },
    file: string,
    /** What holds it, for the message (a sync unless said). */
    who = 'agentgit sync',
  ) {
    const at = (ms: number): string => (Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms));
    const foreign = holder.staleAt === undefined ? '' : ` on host ${holder.host}`;
    const takeOver = holder.staleAt === undefined ? '' : `; if that host is gone, the lock is taken over from ${at(holder.staleAt)}`;
    const since = Number.isFinite(holder.since) ? `, since ${at(holder.since)}` : '';
    super(`another ${who} (pid ${holder.pid}${foreign}${since}) holds ${file}; this run did nothing and will retry next time${takeOver}`);
    this.name = 'LockBusyError';
  }
}

/** The hub's history failed verification: nothing from it was merged (exit 1). */
export class RejectedError extends Error {
  readonly code = 'EREJECTED';
  readonly exitCode = EXIT.FAILED;
}

export interface SecretFinding {
  commit: string;
  /** The path (redacted when the name itself holds a token), or null for the commit message. */
  path: string | null;
  what: string;
}

/** A push that would send a secret: nothing was sent (exit 1). */
export class SecretsInPushError extends Error {
  readonly code = 'ESECRET';
  readonly exitCode = EXIT.FAILED;
  constructor(
    message: string,
    readonly findings: SecretFinding[],
  ) {
    super(message);
  }
}

/**
 * A phase of a sync round stopped after part of its work was done:
 * `partial` is that part, tagged with its phase (sync/round.ts reports and
 * records it as if the phase had returned it); `error` is why it stopped,
 * and its exit code is the phase's.
 */
export class PhaseError extends Error {
  constructor(
    readonly partial: unknown,
    readonly error: unknown,
  ) {
    super(messageOf(error));
  }

  get exitCode(): ExitCode {
    return exitCodeOf(this.error);
  }
}

/** The exit code an error thrown out of a command means. */
export function exitCodeOf(e: unknown): ExitCode {
  const own = (e as { exitCode?: unknown } | null)?.exitCode;
  if (own === EXIT.OK || own === EXIT.FAILED || own === EXIT.USAGE || own === EXIT.TEMPORARY) return own;
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'EUSAGE') return EXIT.USAGE;
  if (code === 'ETEMP' || code === 'ELOCKED') return EXIT.TEMPORARY;
  if (e instanceof GitError) return classifyGitError(e).temporary ? EXIT.TEMPORARY : EXIT.FAILED;
  return EXIT.FAILED;
}

/** The message to print for an error thrown out of a command (git's failures with their cause and fix). */
export function messageOf(e: unknown): string {
  if (e instanceof GitError) return classifyGitError(e).reason;
  return e instanceof Error ? e.message : String(e);
}

/**
 * A host name ssh could not resolve, when it can only be a mistake: a name
 * with no dot (an ssh config alias; ssh reports the HostName when the
 * config names one) that the resolver says does not exist. A DNS outage
 * ("Temporary failure in name resolution") or a full name is temporary.
 */
function unknownAlias(s: string): string | null {
  const m = /Could not resolve hostname ([^\s:]+): (.*)/i.exec(s);
  if (!m) return null;
  const [, host, why] = m as unknown as [string, string, string];
  if (host.includes('.') || host.includes(':') || /temporary failure|try again/i.test(why)) return null;
  if (host === 'localhost') return null;
  return host;
}

/** Sort git failures into temporary (75) and permanent (1), with a reason an operator can act on. */
export function classifyGitError(e: unknown): { temporary: boolean; reason: string } {
  if (!(e instanceof GitError)) return { temporary: false, reason: (e as Error).message };
  const s = e.stderr;
  if (e.timedOut) return { temporary: true, reason: `the hub did not answer in time (${e.message})` };
  const fsck = /object ([0-9a-f]{40,64}): (\w+): ([^\n]*)/.exec(s);
  if (fsck || /fsck error/.test(s)) {
    const what = fsck ? `object ${fsck[1]!.slice(0, 10)}: ${fsck[2]}: ${fsck[3]!.trim()}` : firstLine(s);
    return { temporary: false, reason: `refused the hub's history: git's object check (transfer.fsckObjects) refuses it (${what}). Nothing from the hub was fetched or merged; local work is committed and kept. Remove the commit that brings it from the hub (docs/security.md, "Hostile trees")` };
  }
  if (/Permission denied \(publickey|Authentication failed|HTTP Basic: Access denied|(?:returned error|HTTP)[: ]+40[13]\b|could not read Username|terminal prompts disabled|Host key verification failed/i.test(s)) {
    return { temporary: false, reason: `the hub refused our credentials: ${firstLine(s)}; check the deploy key / credential helper (\`agentgit doctor\`)` };
  }
  const notRepo = /'([^']*)' does not appear to be a git repository/i.exec(s);
  if (notRepo) {
    return {
      temporary: false,
      reason: `the hub ${notRepo[1]} is not a git repository (wrong path, or not created yet): create it with \`git init --bare -b main ${notRepo[1]}\` on the hub, or point agentgit at the right one with \`git -C DIR remote set-url origin URL\` (exit 1: retrying will not help)`,
    };
  }
  const notFound = /repository '([^']*)' not found/i.exec(s);
  if (notFound || /Repository not found|repository does not exist|project you were looking for could not be found/i.test(s)) {
    const where = notFound ? ` ${notFound[1]}` : '';
    return {
      temporary: false,
      reason: `the hub has no repository${where} (${firstLine(s)}): create it on the hub, check the URL (\`git -C DIR remote -v\`), or grant the deploy key access to it (exit 1: retrying will not help)`,
    };
  }
  const alias = unknownAlias(s);
  if (alias) {
    return {
      temporary: false,
      reason: `ssh cannot resolve the hub's host "${alias}": it is no host name and no \`Host ${alias}\` block with a HostName in ~/.ssh/config (or the config GIT_SSH_COMMAND names) defines it. Add one, or use the full host name in the hub URL (exit 1: retrying will not help)`,
    };
  }
  const http5 = /(?:RPC failed; HTTP|returned error:) (5\d\d)/.exec(s);
  if (http5) {
    return { temporary: true, reason: `the hub failed on its side (HTTP ${http5[1]}): check its disk space and server logs; local work is kept and the next run retries` };
  }
  if (/No space left on device/i.test(s)) {
    return { temporary: true, reason: `the hub's disk is full (${firstLine(s)}); free space on the hub, local work is kept and the next run retries` };
  }
  if (/Could not resolve host|Connection refused|Connection timed out|Operation timed out|Network is unreachable|No route to host|Connection reset|Could not read from remote repository|unable to access|early EOF|the remote end hung up|No space left|RPC failed|Failed to connect/i.test(s)) {
    return { temporary: true, reason: `the hub is unreachable: ${firstLine(s)}` };
  }
  return { temporary: false, reason: e.message };
}

/** The line of git's stderr that says what went wrong (errors before warnings and hints). */
export function firstLine(s: string): string {
  const lines = s.split('\n').filter((l) => l.trim() && !l.startsWith('hint:'));
  const best = lines.find((l) => /No space left|fatal:|error:|denied|refused|rejected|not found|Could not resolve/i.test(l)) ?? lines[0] ?? '';
  return best.replace(/^(fatal|error|remote|ERROR|ssh): /, '').trim();
}
