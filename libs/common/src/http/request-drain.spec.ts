import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError } from '../errors/api-error';
import { RequestDrain, RequestDrainMiddleware, ShutdownCut, shutdownPlan } from './request-drain';

describe('shutdownPlan', () => {
  it('gives requests all but the last third of the grace period (at most 5 s), then closes and settles within it', () => {
    expect(shutdownPlan(30_000)).toEqual({ cutAtMs: 25_000, closeAtMs: 27_500, settledByMs: 28_750 });
    expect(shutdownPlan(3_000)).toEqual({ cutAtMs: 2_000, closeAtMs: 2_500, settledByMs: 2_750 });
    expect(shutdownPlan(0)).toEqual({ cutAtMs: 0, closeAtMs: 0, settledByMs: 0 });
    for (const grace of [1, 10, 999, 8_000, 120_000]) {
      const plan = shutdownPlan(grace);
      expect(plan.cutAtMs).toBeLessThanOrEqual(plan.closeAtMs);
      expect(plan.closeAtMs).toBeLessThanOrEqual(plan.settledByMs);
      expect(plan.settledByMs).toBeLessThanOrEqual(grace);
    }
  });
});

describe('RequestDrain', () => {
  it('is idle once everything tracked has ended, or says it is not at the deadline', async () => {
    const drain = new RequestDrain();
    expect(await drain.idle(Date.now())).toBe(true);
    const endA = drain.track();
    const endB = drain.track(() => undefined);
    expect(await drain.idle(Date.now() + 20)).toBe(false);
    const idle = drain.idle(Date.now() + 60_000);
    endA();
    endA(); // twice changes nothing
    expect(drain.size).toBe(1);
    endB();
    expect(await idle).toBe(true);
  });

  it('cuts the calls that can be cut, once, and any call tracked after the cut at once', () => {
    const drain = new RequestDrain();
    const reasons: unknown[] = [];
    drain.track((reason) => reasons.push(reason));
    drain.track(); // a request: nothing to cut
    expect(drain.cut()).toBe(1);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toBeInstanceOf(ShutdownCut);
    drain.track((reason) => reasons.push(reason));
    expect(reasons).toHaveLength(2);
    expect(reasons[1]).toBe(reasons[0]);
  });
});

describe('RequestDrainMiddleware on a real server', () => {
  let server: Server;
  let port: number;
  const drain = new RequestDrain();
  const middleware = new RequestDrainMiddleware(drain);
  /** responses the handler holds open until the test ends them */
  const held: ServerResponse[] = [];
  let refused: ApiError[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      try {
        middleware.use(req, res, () => held.push(res));
      } catch (e) {
        refused.push(e as ApiError);
        res.statusCode = 503;
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const get = (agent?: false): Promise<{ res: IncomingMessage; body: Promise<void> }> =>
    new Promise((resolve, reject) => {
      const req = request({ port, path: '/', agent }, (res) => resolve({ res, body: new Promise((done) => res.resume().on('end', done).on('error', () => done())) }));
      req.on('error', reject);
      req.end();
    });
  const waitHeld = async (n: number): Promise<void> => {
    while (held.length < n) await new Promise((r) => setTimeout(r, 5));
  };

  it('tracks each request until its response closes; once stopped, answers in flight close their connection and new requests are refused', async () => {
    refused = [];
    const first = get();
    await waitHeld(1);
    expect(drain.size).toBe(1);
    const endCall = drain.track(() => undefined); // a call of that request
    expect({ size: drain.size, requests: drain.requests }).toEqual({ size: 2, requests: 1 });
    endCall();
    drain.stopAccepting();
    expect(drain.accepting).toBe(false);
    held.shift()?.end('ok');
    const { res, body } = await first;
    await body;
    expect(res.headers.connection).toBe('close');
    while (drain.size > 0) await new Promise((r) => setTimeout(r, 5));

    const late = await get(false);
    await late.body;
    expect(late.res.statusCode).toBe(503);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ status: 503, code: 'server_shutting_down', headers: { 'Retry-After': '1' } });
    expect(drain.size).toBe(0);
  });

  it('closes the connections of requests still open', async () => {
    const fresh = new RequestDrain();
    const open = new Promise<ServerResponse>((resolve) => {
      const s = createServer((req, res) => new RequestDrainMiddleware(fresh).use(req, res, () => resolve(res)));
      s.listen(0, '127.0.0.1', () => {
        const req = request({ port: (s.address() as AddressInfo).port, path: '/' });
        req.on('error', () => s.close());
        req.end();
      });
    });
    await open;
    expect(fresh.size).toBe(1);
    expect(fresh.closeConnections()).toBe(1);
    expect(await fresh.idle(Date.now() + 10_000)).toBe(true);
  });
});
