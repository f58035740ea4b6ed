/** The isomorphic-git engine, imported by git/repo.ts only when chosen (git/iso/choose.ts). */
import { IsoGitEngine } from './iso-git.js';
import { childDeadlineAt } from '../exec.js';

export const isoGitEngine = new IsoGitEngine(process.env, childDeadlineAt);
