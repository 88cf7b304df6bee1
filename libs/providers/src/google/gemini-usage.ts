/**
 * Gemini `usageMetadata` ⇄ Switchyard's disjoint `NormalizedUsage`.
 *
 * Google's counts overlap (see `GeminiUsageMetadata`): the prompt count includes cached tokens, the
 * per-modality prompt details include the cached ones too (broken down again in `cacheTokensDetails`),
 * and thinking tokens are reported beside, not inside, the candidates count. Image output tokens are
 * priced apart from text output on the image models (https://ai.google.dev/gemini-api/docs/pricing),
 * so they are carved out of the candidates count by its modality details.
 */
import type { GeminiModalityTokenCount, GeminiUsageMetadata } from '../types/gemini';
import { emptyUsage, splitInput, splitOutput, tokenCount, totalInputTokens, type NormalizedUsage } from '../types/usage';

function modality(details: GeminiModalityTokenCount[] | undefined, name: string): number {
  if (!Array.isArray(details)) return 0;
  let sum = 0;
  for (const d of details) if (d && d.modality === name) sum += tokenCount(d.tokenCount);
  return sum;
}

export function normalizeGeminiUsage(u: GeminiUsageMetadata | null | undefined): NormalizedUsage {
  if (!u) return emptyUsage();
  const cached = tokenCount(u.cachedContentTokenCount);
  // Tool-use prompt tokens (results of server-side tools fed back to the model) are billed as input.
  const prompt = tokenCount(u.promptTokenCount) + tokenCount(u.toolUsePromptTokenCount);
  const imageIn = Math.max(0, modality(u.promptTokensDetails, 'IMAGE') - modality(u.cacheTokensDetails, 'IMAGE'));
  const audioIn = Math.max(0, modality(u.promptTokensDetails, 'AUDIO') - modality(u.cacheTokensDetails, 'AUDIO'));
  const thoughts = tokenCount(u.thoughtsTokenCount);
  const candidates = tokenCount(u.candidatesTokenCount);
  return {
    ...splitInput(prompt, { cached, image: imageIn, audio: audioIn }),
    ...splitOutput(candidates + thoughts, {
      reasoning: thoughts,
      image: modality(u.candidatesTokensDetails, 'IMAGE'),
    }),
    images: 0,
  };
}

/** The reverse, for the Gemini-native route answering from a non-Google model. */
export function geminiUsageFromNormalized(u: NormalizedUsage): GeminiUsageMetadata {
  const prompt = totalInputTokens(u);
  const candidates = u.textOutput + u.imageOutput;
  const out: GeminiUsageMetadata = {
    promptTokenCount: prompt,
    candidatesTokenCount: candidates,
    totalTokenCount: prompt + candidates + u.reasoningOutput,
  };
  if (u.cachedInput > 0) out.cachedContentTokenCount = u.cachedInput;
  if (u.reasoningOutput > 0) out.thoughtsTokenCount = u.reasoningOutput;
  const promptDetails: GeminiModalityTokenCount[] = [{ modality: 'TEXT', tokenCount: u.textInput + u.cachedInput }];
  if (u.imageInput > 0) promptDetails.push({ modality: 'IMAGE', tokenCount: u.imageInput });
  if (u.audioInput > 0) promptDetails.push({ modality: 'AUDIO', tokenCount: u.audioInput });
  out.promptTokensDetails = promptDetails;
  const candDetails: GeminiModalityTokenCount[] = [{ modality: 'TEXT', tokenCount: u.textOutput }];
  if (u.imageOutput > 0) candDetails.push({ modality: 'IMAGE', tokenCount: u.imageOutput });
  out.candidatesTokensDetails = candDetails;
  return out;
}
