/**
 * The processes a benchmark run starts: each a child pinned to a core with `taskset`, its output in a log
 * file, ready once it answers HTTP, and stopped by its own pid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';

export interface BenchChild {
  name: string;
  pid: number;
  logPath: string;
  /** asks the process to end (SIGTERM unless told), waits for it, and kills it after `graceMs` */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Pins this process (every thread) to `cpu`, so the load generator never competes with the server under test. */
export function pinSelf(cpu: number): boolean {
  return spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' }).status === 0;
}

export function hasTaskset(): boolean {
  return spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;
}

function tail(path: string, lines = 15): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Starts `command args` on core `cpu` (no pinning when `cpu` is null), with exactly `env` as its environment. */
export function startChild(name: string, cpu: number | null, command: string, args: string[], env: Record<string, string>, logDir: string): BenchChild {
  const logPath = join(logDir, `${name}.log`);
  const fd = openSync(logPath, 'a');
  // taskset execs the command, so the child's pid is the server's own pid (what /proc is read for).
  const [cmd, argv] = cpu === null ? [command, args] : ['taskset', ['-c', String(cpu), command, ...args]];
  const proc: ChildProcess = spawn(cmd, argv, { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (proc.pid === undefined) throw new Error(`${name} did not start`);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    name,
    pid: proc.pid,
    logPath,
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Waits until `url` answers HTTP at all (any status), failing early when the child has exited. */
export async function waitForHttp(child: BenchChild, url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!existsSync(`/proc/${child.pid}`) || /^State:\s+Z/m.test(safeRead(`/proc/${child.pid}/status`))) {
      throw new Error(`${child.name} exited before it was ready:\n${tail(child.logPath)}`);
    }
    try {
      const res = await request(url, { method: 'GET', headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.dump();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${child.name} not ready at ${url} after ${timeoutMs} ms:\n${tail(child.logPath)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * nginx as a plain reverse proxy in front of the simulator: one process (`master_process off`), keep-alive to
 * the upstream, no buffering (SSE passes chunk by chunk, images stream through), no access log.
 */
export function writeNginxConfig(dir: string, listenPort: number, upstreamPort: number): string {
  const path = join(dir, 'nginx.conf');
  writeFileSync(
    path,
    `worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  upstream simulator { server 127.0.0.1:${upstreamPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${listenPort};
    location / {
      proxy_pass http://simulator;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
`,
  );
  return path;
}

export const NGINX_BINARY = '/usr/sbin/nginx';

/**
 * The glibc allocator settings the production image sets (`ENV MALLOC_…` lines of the Dockerfile), so the
 * benchmark's servers run with the memory behaviour of a deployment. Read from the Dockerfile itself, so the two
 * cannot drift apart.
 */
export function containerAllocatorEnv(dockerfile: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of readFileSync(dockerfile, 'utf8').matchAll(/^ENV\s+(MALLOC_[A-Z_]+)=(\S+)\s*$/gm)) env[m[1]] = m[2];
  return env;
}
