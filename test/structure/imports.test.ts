/**
 * No import cycles between the folders of src/ (docs/engines.md,
 * "Structure"): the graph of static imports and re-exports (`import ...
 * from`, `import type`, `export ... from`) and dynamic `import()` of every
 * file, folded to folders (src/cli, src/git, ..., and src/ itself for
 * src/errors.ts), must have no cycle. A cycle names its folders and the
 * files that close it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/agents.js';

const SRC = join(ROOT, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const abs = join(dir, e);
    return statSync(abs).isDirectory() ? files(abs) : e.endsWith('.ts') ? [abs] : [];
  });
}

/** Every module a file names: static imports and re-exports, dynamic import() with a literal. */
export function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  for (const m of code.matchAll(/\b(?:import|export)\s+(?:type\s+)?(?:[\w*${},\s]+?\s+from\s+)?['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  return out;
}

/** The folder of a file under src/: its first path segment, or '.' for a file directly in src/. */
function folderOf(file: string): string {
  const rel = relative(SRC, file).split('/');
  return rel.length === 1 ? '.' : rel[0]!;
}

/** folder -> folder -> the importing files (one edge per pair). */
function folderGraph(): Map<string, Map<string, string[]>> {
  const g = new Map<string, Map<string, string[]>>();
  for (const f of files(SRC)) {
    const from = folderOf(f);
    if (!g.has(from)) g.set(from, new Map());
    for (const spec of importsOf(readFileSync(f, 'utf8'))) {
      if (!spec.startsWith('.')) continue; // a package or node: builtin
      const target = resolve(dirname(f), spec.replace(/\.js$/, '.ts'));
      const to = folderOf(target);
      if (to === from) continue;
      const edges = g.get(from)!;
      edges.set(to, [...(edges.get(to) ?? []), `${relative(ROOT, f)} -> ${spec}`]);
    }
  }
  return g;
}

/** The cycles of a graph, each as its strongly connected component (Tarjan), larger than one node. */
export function cycles(g: Map<string, Iterable<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of [...g.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

describe('the import graph of src/', () => {
  it('finds imports of every form (so the check below can fail)', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../b/b.js';",
      "import * as c from './c.js';",
      "export { d } from './d.js';",
      "export * from './e.js';",
      "import './f.js';",
      "const g = await import('../g/g.js');",
      "import {\n  h,\n  type H,\n} from '../h/h.js';",
      "// import { no } from './comment.js';",
    ].join('\n');
    expect(importsOf(text).sort()).toEqual(['../b/b.js', '../g/g.js', '../h/h.js', './a.js', './c.js', './d.js', './e.js', './f.js']);
    expect(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c']]);
    expect(cycles(new Map([['a', ['b']], ['b', []]]))).toEqual([]);
  });

  it('has no cycle between folders', () => {
    const g = folderGraph();
    expect(g.size).toBeGreaterThan(5); // the walk found src/
    const found = cycles(new Map([...g].map(([k, v]) => [k, v.keys()])));
    const explain = found.map((scc) => {
      const inside = new Set(scc);
      const edges = scc.flatMap((f) => [...(g.get(f) ?? new Map<string, string[]>())].filter(([t]) => inside.has(t)).flatMap(([, via]) => via));
      return `${scc.join(' <-> ')}:\n  ${edges.join('\n  ')}`;
    });
    expect(explain).toEqual([]);
  });
});
