/**
 * Reads a V8 `.cpuprofile` (from `node --cpu-prof`) and says where the time went: self time by area (Node
 * internals, each npm package, each Switchyard library) and the hottest functions. Standalone:
 * `node dist/bench/bench/profile-summary.js <file.cpuprofile>`.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Which part of the stack a frame belongs to. */
export function areaOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? url);
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1).split('/').slice(1, 4).join('/');
  return url;
}

export interface ProfileSummary {
  totalMs: number;
  /** [area, self ms, share] */
  areas: Array<[string, number, number]>;
  /** [function @ file:line, self ms, share] */
  functions: Array<[string, number, number]>;
  /**
   * [function @ file:line, inclusive ms, share] for Switchyard's own functions (under dist/apps or dist/libs): the
   * time with the function on the stack, callees included. Synchronous stretches only: the time an async
   * function waits is not on its stack, and what runs after an await counts under the function again.
   */
  inclusive: Array<[string, number, number]>;
}

/** A window on the profile's clock: CLOCK_MONOTONIC in µs, the clock of `process.hrtime` in every process. */
export type ProfileWindowUs = readonly [start: number, end: number];

const OWN_CODE = /\/dist\/(apps|libs)\//;

function frameKey(n: ProfileNode): string {
  const file = n.callFrame.url.replace(/^.*\/(node_modules|dist)\//, '$1/');
  return `${n.callFrame.functionName || '(anonymous)'} @ ${file}:${n.callFrame.lineNumber + 1}`;
}

/**
 * Where the CPU went, over the whole profile or only the samples taken within `window` (a measured phase, from
 * `ScenarioResult.windowUs`, so the summary is not diluted by start-up, warm-up or other scenarios).
 */
export function summarizeProfile(profile: CpuProfile, top = 25, window?: ProfileWindowUs): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const selfUs = new Map<number, number>();
  if (profile.samples && profile.timeDeltas) {
    // The delta before sample i is time spent in the previous sample's node (V8's own attribution).
    let at = profile.startTime + (profile.timeDeltas[0] ?? 0);
    for (let i = 1; i < profile.samples.length; i++) {
      const id = profile.samples[i - 1];
      const inWindow = !window || (at >= window[0] && at < window[1]);
      at += profile.timeDeltas[i] ?? 0;
      if (id !== undefined && inWindow) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
    }
  } else if (!window) {
    const total = profile.endTime - profile.startTime;
    const hits = profile.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0) || 1;
    for (const n of profile.nodes) selfUs.set(n.id, ((n.hitCount ?? 0) * total) / hits);
  }
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  for (const n of profile.nodes) {
    const us = selfUs.get(n.id) ?? 0;
    if (us === 0 || n.callFrame.functionName === '(idle)') continue;
    busy += us;
    const area = areaOf(n.callFrame.url, n.callFrame.functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const key = frameKey(n);
    fns.set(key, (fns.get(key) ?? 0) + us);
    // every own function on this node's stack, once (a recursive one is not counted twice)
    const seen = new Set<string>();
    for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id);
      if (!frame || !OWN_CODE.test(frame.callFrame.url)) continue;
      const k = frameKey(frame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  const rank = (m: Map<string, number>): Array<[string, number, number]> =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => [k, us / 1000, busy > 0 ? us / busy : 0]);
  return { totalMs: busy / 1000, areas: rank(areas), functions: rank(fns), inclusive: rank(inclusive) };
}

export function formatSummary(s: ProfileSummary): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const lines = [`busy (non-idle) CPU in the profile: ${s.totalMs.toFixed(0)} ms`, '', 'self time by area:'];
  for (const [a, ms, share] of s.areas) lines.push(`  ${pct(share).padStart(6)}  ${ms.toFixed(0).padStart(7)} ms  ${a}`);
  lines.push('', 'hottest functions (self time):');
  for (const [f, ms, share] of s.functions) lines.push(`  ${pct(share).padStart(6)}  ${ms.toFixed(0).padStart(7)} ms  ${f}`);
  lines.push('', "Switchyard's own functions, inclusive (callees counted; synchronous stretches only):");
  for (const [f, ms, share] of s.inclusive) lines.push(`  ${pct(share).padStart(6)}  ${ms.toFixed(0).padStart(7)} ms  ${f}`);
  return `${lines.join('\n')}\n`;
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: profile-summary <file.cpuprofile>\n');
    process.exit(2);
  }
  process.stdout.write(formatSummary(summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile)));
}
