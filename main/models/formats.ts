// The text formats the unified model is pretrained on, shared by pretraining, the evaluation generator and
// the RL trainers (a rollout must prompt the model the way it was taught). `prompt` is what the model is
// given; `completion` is what it learns to write (and what RL samples).
//   image generation    <bos> <generate> {prompt}                                   + generation queries
//   reasoning → image   <bos> <generate> {vague} <think> | {reasoning} </think> <answer> {rewrite} </answer> <eos>
//                                                                                   + generation queries
//   editing             [source image] <bos> <edit> {instruction}                   + editing queries
//   question            [image] <bos> <question> {question} <answer> | {answer} </answer> <eos>
//   caption             [image] <bos> <caption> | {caption} <eos>
//   critique            [image] <bos> <critique> {prompt} <think> | {critique} </think> <answer> {fix} </answer> <eos>
// (`|` separates prompt from completion.)

import { CORRECT_CRITIQUE, NO_FIX, type CritiqueVerdict } from '../world/reflection.ts';
import { splitWords } from './tokenizer.ts';

/** The critique of an image that already matches its prompt, and its (empty) fix (ShapeWorld's reflection data owns them). */
export { CORRECT_CRITIQUE, NO_FIX };

export const formats = {
  generate: (prompt: string) => `<bos> <generate> ${prompt}`,
  /** Prompt of a reasoning rollout (text reasoning and CoT image generation). */
  think: (vague: string) => `<bos> <generate> ${vague} <think>`,
  thinkCompletion: (reasoning: string, rewrite: string) => `${reasoning} </think> <answer> ${rewrite} </answer> <eos>`,
  edit: (instruction: string) => `<bos> <edit> ${instruction}`,
  question: (question: string) => `<bos> <question> ${question} <answer>`,
  answerCompletion: (answer: string) => `${answer} </answer> <eos>`,
  caption: () => '<bos> <caption>',
  captionCompletion: (caption: string) => `${caption} <eos>`,
  critique: (prompt: string) => `<bos> <critique> ${prompt} <think>`,
  critiqueCompletion: (critique: string, fix: string) => `${critique} </think> <answer> ${fix} </answer> <eos>`,
} as const;

/** The text between `open` and `close` in a completion (or after `open` up to the end), trimmed; undefined when `open` is absent. */
export function between(text: string, open: string, close: string): string | undefined {
  const start = text.indexOf(open);
  if (start < 0) return undefined;
  const from = start + open.length;
  const end = text.indexOf(close, from);
  return (end < 0 ? text.slice(from) : text.slice(from, end))
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Reads a completion of the reasoning or critique formats: the thinking and the answer. */
export function parseCompletion(completion: string): { thinking?: string; answer?: string } {
  const thinking = completion.includes('</think>')
    ? completion
        .slice(0, completion.indexOf('</think>'))
        .replace(/<[^>]+>/g, ' ')
        .replace(/\s+/g, ' ')
        .trim()
    : undefined;
  const answer = between(completion, '<answer>', '</answer>');
  const out: { thinking?: string; answer?: string } = {};
  if (thinking !== undefined) out.thinking = thinking;
  if (answer !== undefined) out.answer = answer;
  return out;
}

/**
 * Reads a critique completion (the critique format): the critique sentence, the verdict ('correct' when it
 * says the image matches the prompt or that there is nothing to fix) and the corrected instruction (the
 * answer; the critique itself when the LM wrote no answer). The RL reflect scenario and the `model`
 * generator's reflection (ShapeEval's `refine` suite) both decide with it whether to refine.
 */
export function readCritique(completion: string): { critique: string; verdict: CritiqueVerdict; fix: string } {
  const { thinking, answer } = parseCompletion(completion);
  const plain = (text: string) =>
    text
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim();
  const words = (text: string) => splitWords(text).join(' ');
  const critique = thinking ?? plain(completion);
  const verdict: CritiqueVerdict =
    words(critique) === words(CORRECT_CRITIQUE) || (answer !== undefined && words(answer) === words(NO_FIX)) ? 'correct' : 'wrong';
  return { critique, verdict, fix: verdict === 'correct' ? '' : answer || critique };
}
