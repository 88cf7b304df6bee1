/**
 * Switchyard's upstream simulator: a loopback HTTP server that speaks each provider's wire format and can
 * be scripted per request to fail. Used by integration/e2e tests, `npm run demo` and the benchmark.
 */
export { startSimulator } from './simulator.server';
export type { SimCall, SimCallFilter, SimProvider, SimRule, SimulatorHandle, SimulatorOptions } from './sim-types';

/** Base URLs a gateway is configured with, per provider, for a simulator at `url`. */
export function simulatorBaseUrls(url: string): Record<string, string> {
  return {
    openai: `${url}/openai/v1`,
    google: `${url}/gemini`,
    xai: `${url}/xai/v1`,
    anthropic: `${url}/anthropic`,
    deepseek: `${url}/deepseek`,
    qwen: `${url}/dashscope/compatible-mode/v1`,
    moonshot: `${url}/moonshot/v1`,
    minimax: `${url}/minimax/v1`,
  };
}
