import { simulatorBaseUrls } from './index';

/**
 * The environment that points a gateway at a simulator: every provider's base URL and a key for each
 * (the simulator accepts any non-empty key except `invalid`).
 */
export function gatewayEnvForSimulator(url: string): Record<string, string> {
  const b = simulatorBaseUrls(url);
  return {
    OPENAI_BASE_URL: b.openai, OPENAI_API_KEY: 'sk-sim-openai',
    GEMINI_BASE_URL: b.google, GEMINI_API_KEY: 'sim-gemini-key',
    XAI_BASE_URL: b.xai, XAI_API_KEY: 'xai-sim-key',
    ANTHROPIC_BASE_URL: b.anthropic, ANTHROPIC_API_KEY: 'sk-ant-sim',
    DEEPSEEK_BASE_URL: b.deepseek, DEEPSEEK_API_KEY: 'sk-sim-deepseek',
    DASHSCOPE_BASE_URL: b.qwen, DASHSCOPE_API_KEY: 'sk-sim-dashscope',
    MOONSHOT_BASE_URL: b.moonshot, MOONSHOT_API_KEY: 'sk-sim-moonshot',
    MINIMAX_BASE_URL: b.minimax, MINIMAX_API_KEY: 'sim-minimax-key',
  };
}
