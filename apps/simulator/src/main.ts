/**
 * Runs the simulator standalone: `node dist/apps/simulator/main.js --port 4010 [--host 127.0.0.1]
 * [--latency-ms 0] [--stream-chunks 8] [--stream-chunk-delay-ms 0]`. Options come from argv only.
 */
import { startSimulator } from './index';
import type { SimulatorOptions } from './sim-types';

export function parseArgs(argv: string[]): SimulatorOptions {
  const opts: SimulatorOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = (argv[i] ?? '').split('=', 2);
    const value = inline ?? argv[i + 1];
    const takesNext = inline === undefined;
    const asNumber = (): number => {
      const n = Number(value);
      if (value === undefined || !Number.isFinite(n) || n < 0) throw new Error(`${flag} expects a non-negative number`);
      if (takesNext) i++;
      return n;
    };
    switch (flag) {
      case '--port':
        opts.port = asNumber();
        break;
      case '--latency-ms':
        opts.latencyMs = asNumber();
        break;
      case '--stream-chunks':
        opts.streamChunks = asNumber();
        break;
      case '--stream-chunk-delay-ms':
        opts.streamChunkDelayMs = asNumber();
        break;
      case '--host':
        if (value === undefined) throw new Error('--host expects a value');
        opts.host = value;
        if (takesNext) i++;
        break;
      default:
        throw new Error(`unknown option ${argv[i] ?? ''}`);
    }
  }
  return opts;
}

async function main(): Promise<void> {
  const sim = await startSimulator(parseArgs(process.argv.slice(2)));
  process.stdout.write(`Switchyard upstream simulator listening on ${sim.url}\n`);
  const stop = (): void => {
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
