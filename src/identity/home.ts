/**
 * Where keys and per-machine settings live: $AGENTGIT_HOME, else
 * $XDG_CONFIG_HOME/agentgit, else ~/.config/agentgit. A module of its own
 * so that what runs before a round's modules load (sync/ssh-ahead.ts) can
 * find it without loading the key code.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function agentgitHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AGENTGIT_HOME) return env.AGENTGIT_HOME;
  const xdg = env.XDG_CONFIG_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.config'), 'agentgit');
}
