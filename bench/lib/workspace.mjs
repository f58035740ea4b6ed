/**
 * Generated agent workspaces (see /work/shared/notes/agent-workspaces.md) and
 * the edits an agent makes to them. Deterministic: the same seed gives the
 * same bytes, so agentgit and the plain-git baseline start from one state.
 *
 * One year:   365 daily logs `memory/YYYY-MM-DD.md` of about 8 KB
 *             (`## Topic (1:40 PM)` sections with bullets), 20 JSON state
 *             files (lastChecks map, task list with ids), 10 curated docs.
 * Scale:      the same plus 10,000 files: 8,000 dated topic logs of about
 *             1 KB (`memory/archive/YYYY/YYYY-MM-DD-slug.md`) and 2,000 skill
 *             docs of about 1.2 KB (`skills/NAME/notes-N.md`).
 *
 * Edits are made so that git's own line merge (the plain-git baseline, with
 * merge=union on the logs) merges them cleanly: log entries are appended at
 * the end; the two instances change JSON keys 30+ lines apart. An edit never
 * touches a `last_updated`-style key, since plain git would stop on that
 * conflict and the baseline would not complete.
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { rng } from './util.mjs';

const WORDS = (
  'email calendar review draft reply Ann Bob Chen meeting invoice report deploy server backup budget travel flight hotel ' +
  'dentist standup notes summary follow-up reminder weather groceries recipe gym run sleep project roadmap release bug ' +
  'ticket customer feedback newsletter podcast article research paper café résumé pull-request branch merge config ' +
  'tomorrow friday monday quarter deadline priority blocked done pending moved renamed archived synced checked'
).split(/\s+/);
const TOPICS = ['Morning check-in', 'Email triage', 'Calendar', 'Errands', 'Research', 'Project sync', 'Lunch', 'Follow-ups', 'Reading', 'Evening review', 'Health', 'Finance', 'Travel', 'Ideas'];
const DOCS = ['AGENTS.md', 'SOUL.md', 'USER.md', 'IDENTITY.md', 'TOOLS.md', 'HEARTBEAT.md', 'BOOT.md', 'MEMORY.md', 'DREAMS.md', 'skills/email/SKILL.md'];
const JSON_FILES = [
  'memory/heartbeat-state.json',
  'mission-control/tasks.json',
  '.openclaw/workspace-state.json',
  ...Array.from({ length: 17 }, (_, i) => `state/${['contacts', 'projects', 'habits', 'feeds', 'inbox', 'reminders', 'budget', 'reading', 'travel', 'devices', 'prefs', 'routines', 'goals', 'people', 'places', 'subscriptions', 'metrics'][i]}.json`),
];

function sentence(r, min = 5, max = 14) {
  const n = min + r.int(max - min + 1);
  const w = [];
  for (let i = 0; i < n; i++) w.push(r.pick(WORDS));
  const s = w.join(' ');
  return s[0].toUpperCase() + s.slice(1) + '.';
}

function clock(minutes) {
  const h24 = Math.floor(minutes / 60) % 24;
  const m = minutes % 60;
  const h = h24 % 12 === 0 ? 12 : h24 % 12;
  return `${h}:${String(m).padStart(2, '0')} ${h24 < 12 ? 'AM' : 'PM'}`;
}

function dateOf(i, year = 2025) {
  const d = new Date(Date.UTC(year, 0, 1) + i * 86400000);
  return d.toISOString().slice(0, 10);
}

function dailyLog(r, date, target) {
  let s = `# ${date}\n`;
  let minute = 7 * 60 + r.int(60);
  while (s.length < target) {
    s += `\n## ${r.pick(TOPICS)} (${clock(minute)})\n`;
    const n = 2 + r.int(5);
    for (let i = 0; i < n; i++) s += `- ${sentence(r)}\n`;
    if (r.int(4) === 0) s += `  - ${sentence(r, 3, 8)}\n`;
    minute += 10 + r.int(50);
  }
  return s;
}

function jsonState(r, name) {
  const lastChecks = {};
  for (let i = 0; i < 60; i++) lastChecks[`check_${String(i).padStart(2, '0')}`] = 1767225600 + r.int(31536000);
  const tasks = [];
  for (let i = 1; i <= 30; i++) {
    tasks.push({ id: i, title: sentence(r, 3, 7), status: r.pick(['todo', 'in-progress', 'done']), created_at: `${dateOf(r.int(365))}T09:00:00Z`, updated_at: `${dateOf(r.int(365))}T17:30:00Z` });
  }
  return { version: 1, name, setupCompletedAt: '2025-01-01T08:00:00Z', last_updated: '2025-12-31T23:00:00Z', lastChecks, tasks };
}

function doc(r, title, target) {
  let s = `# ${title}\n`;
  while (s.length < target) {
    s += `\n## ${r.pick(TOPICS)}\n\n`;
    for (let i = 0; i < 3 + r.int(4); i++) s += sentence(r, 8, 20) + ' ';
    s = s.trimEnd() + '\n';
  }
  return s;
}

function put(dir, path, text) {
  const abs = join(dir, path);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, text);
}

/**
 * Write a workspace into `dir`. Returns its layout: paths by kind, in a
 * stable order (newest daily log first), for the edits below.
 */
export function generateWorkspace(dir, { days = 365, scale = false, seed = 7 } = {}) {
  const r = rng(seed);
  const logs = [];
  for (let i = 0; i < days; i++) {
    const date = dateOf(i);
    const path = `memory/${date}.md`;
    put(dir, path, dailyLog(r, date, 7600 + r.int(800)));
    logs.push(path);
  }
  logs.reverse(); // newest first: "today" is logs[0]
  const json = JSON_FILES.slice();
  for (const p of json) put(dir, p, JSON.stringify(jsonState(r, p), null, 2) + '\n');
  const docs = DOCS.slice();
  for (const p of docs) put(dir, p, doc(r, p.replace(/\.md$/, ''), 2000 + r.int(4000)));
  const archive = [];
  const skills = [];
  if (scale) {
    for (let i = 0; i < 8000; i++) {
      const date = dateOf(-1 - Math.floor(i / 4), 2025);
      const path = `memory/archive/${date.slice(0, 4)}/${date}-${r.pick(TOPICS).toLowerCase().replace(/[^a-z]+/g, '-')}-${i % 4}.md`;
      put(dir, path, dailyLog(r, date, 800 + r.int(500)));
      archive.push(path);
    }
    for (let i = 0; i < 2000; i++) {
      const path = `skills/skill-${String(Math.floor(i / 20)).padStart(3, '0')}/notes-${i % 20}.md`;
      put(dir, path, doc(r, `Skill notes ${i}`, 900 + r.int(600)));
      skills.push(path);
    }
  }
  return { logs, json, docs, archive, skills, files: logs.length + json.length + docs.length + archive.length + skills.length };
}

/** The files a workload changes: `n` of them, logs first (then JSON), as the issue describes. */
export function pickFiles(layout, n, { jsonShare = 0.2 } = {}) {
  const nJson = Math.min(layout.json.length, Math.floor(n * jsonShare));
  const logs = [...layout.logs, ...layout.archive];
  if (n - nJson > logs.length) throw new Error(`workspace has ${logs.length} logs, ${n - nJson} needed`);
  return { logs: logs.slice(0, n - nJson), json: layout.json.slice(0, nJson) };
}

/**
 * An agent's writes: append an entry to each log, change one lastChecks key of
 * each JSON file. `side` 'a' changes keys 00-14 and 'b' keys 45-59, so git's
 * line merge never sees adjacent hunks. `round` makes each entry unique.
 */
export function applyEdits(dir, files, side, round) {
  const r = rng(round * 7919 + (side === 'a' ? 1 : 2) * 104729 + side.length);
  for (const p of files.logs) {
    const minute = (13 * 60 + (round % 600)) % 1440;
    appendFileSync(join(dir, p), `\n## Sync ${side} ${round} (${clock(minute)})\n- ${sentence(r)}\n- ${sentence(r)}\n`);
  }
  for (const p of files.json) {
    const abs = join(dir, p);
    const v = JSON.parse(readFileSync(abs, 'utf8'));
    const idx = (side === 'a' || side === 'local' ? 0 : 45) + (round % 15);
    v.lastChecks[`check_${String(idx).padStart(2, '0')}`] = 1767225600 + round * 60 + (side === 'a' ? 1 : 2);
    writeFileSync(abs, JSON.stringify(v, null, 2) + '\n');
  }
  for (const p of files.docs ?? []) appendFileSync(join(dir, p), `\n${sentence(r)}\n`);
}

/** The small round's 10 local changes: 7 logs, 2 JSON files, 1 doc. */
export function smallRoundFiles(layout) {
  return { logs: layout.logs.slice(0, 7), json: layout.json.slice(0, 2), docs: ['MEMORY.md'] };
}
