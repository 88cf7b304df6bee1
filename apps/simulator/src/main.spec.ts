import { parseArgs } from './main';

describe('simulator command line', () => {
  it('reads options from argv in both --flag value and --flag=value forms', () => {
    expect(parseArgs(['--port', '4010', '--host=0.0.0.0', '--stream-chunks', '20', '--stream-chunk-delay-ms=5', '--latency-ms', '1'])).toEqual({
      port: 4010,
      host: '0.0.0.0',
      streamChunks: 20,
      streamChunkDelayMs: 5,
      latencyMs: 1,
    });
  });

  it('rejects unknown options and bad numbers', () => {
    expect(() => parseArgs(['--verbose'])).toThrow(/unknown option/);
    expect(() => parseArgs(['--port', 'abc'])).toThrow(/non-negative number/);
  });
});
