import { summarizeProfile, type CpuProfile } from './profile-summary';

/**
 * A profile of three frames: `handle` (Switchyard's own code) calling `parse` (a package), and an idle node.
 * Samples every 1000 µs from t = 10,000: `handle` for 3 ms, then `parse` for 2 ms, idle for 2 ms, then `parse` again.
 */
function profile(): CpuProfile {
  const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });
  const order = [2, 2, 2, 3, 3, 4, 4, 3, 3, 3];
  return {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 4] },
      { id: 2, callFrame: frame('handle', 'file:///srv/dist/apps/gateway/src/chat/chat.service.js'), children: [3] },
      { id: 3, callFrame: frame('parse', 'file:///srv/node_modules/body-parser/index.js') },
      { id: 4, callFrame: frame('(idle)', '') },
    ],
    startTime: 9_000,
    endTime: 20_000,
    samples: order,
    timeDeltas: order.map(() => 1000),
  };
}

describe('summarizeProfile', () => {
  it('attributes self time per function and area, and inclusive time to Switchyard\'s own functions', () => {
    const s = summarizeProfile(profile());
    // nine intervals: 3 handle + 2 parse + 2 idle + 2 parse (the last sample has no interval after it)
    expect(s.totalMs).toBe(7);
    expect(s.functions).toEqual([
      ['parse @ node_modules/body-parser/index.js:1', 4, 4 / 7],
      ['handle @ dist/apps/gateway/src/chat/chat.service.js:1', 3, 3 / 7],
    ]);
    expect(s.areas.map(([a]) => a)).toEqual(['body-parser', 'apps/gateway/src']);
    // parse runs under handle: all 7 ms have handle on the stack
    expect(s.inclusive).toEqual([['handle @ dist/apps/gateway/src/chat/chat.service.js:1', 7, 1]]);
  });

  it('counts only the samples taken within a window', () => {
    // samples at 10,000 … 19,000; the window [13,000, 15,000) holds the first two parse samples
    const s = summarizeProfile(profile(), 25, [13_000, 15_000]);
    expect(s.totalMs).toBe(2);
    expect(s.functions).toEqual([['parse @ node_modules/body-parser/index.js:1', 2, 1]]);
    expect(summarizeProfile(profile(), 25, [30_000, 40_000]).totalMs).toBe(0);
  });
});
