// Word-level tokenizer for ShapeWorld's closed grammar. The vocabulary is data (saved beside the
// weights), so any model reads its own; a Hugging Face tokenizer.json could implement `Tokenizer` too.

/** Special tokens every tokenizer of the unified model provides. */
export const SPECIAL_TOKENS = [
  '<pad>',
  '<bos>',
  '<eos>',
  '<unk>',
  '<think>',
  '</think>',
  '<answer>',
  '</answer>',
  '<critique>',
  '</critique>',
  '<img>',
  '<question>',
  '<caption>',
  '<edit>',
  '<generate>',
] as const;
export type SpecialToken = (typeof SPECIAL_TOKENS)[number];

/** What the model needs from a tokenizer. */
export interface Tokenizer {
  readonly vocabSize: number;
  /** Id of each special token. */
  readonly specials: Readonly<Record<SpecialToken, number>>;
  /** Text (words and special tokens separated by spaces or punctuation) → ids. Unknown words map to <unk>. */
  encode(text: string): number[];
  /** Ids → text; `skipSpecial` drops special tokens (default false). */
  decode(ids: readonly number[], options?: { skipSpecial?: boolean }): string;
  /** Serialisable form (stored in checkpoints). */
  toJSON(): TokenizerJson;
}

export interface TokenizerJson {
  kind: 'word';
  /** Token strings by id; the special tokens come first, in SPECIAL_TOKENS order. */
  vocab: string[];
}

/** Punctuation that becomes its own token; everything else splits on whitespace. */
const PUNCTUATION = /([.,;:?!()])/g;

export class WordTokenizer implements Tokenizer {
  readonly vocab: readonly string[];
  readonly specials: Readonly<Record<SpecialToken, number>>;
  private readonly ids: ReadonlyMap<string, number>;

  constructor(vocab: readonly string[]) {
    SPECIAL_TOKENS.forEach((s, i) => {
      if (vocab[i] !== s) throw new Error(`WordTokenizer: vocab[${i}] must be the special token '${s}', got '${String(vocab[i])}'`);
    });
    const ids = new Map<string, number>();
    vocab.forEach((word, i) => {
      if (ids.has(word)) throw new Error(`WordTokenizer: duplicate vocabulary entry '${word}'`);
      ids.set(word, i);
    });
    this.vocab = [...vocab];
    this.ids = ids;
    this.specials = Object.fromEntries(SPECIAL_TOKENS.map((s, i) => [s, i])) as Record<SpecialToken, number>;
  }

  /** A tokenizer whose vocabulary is the specials plus every word of `corpus`, sorted (deterministic). */
  static fromCorpus(corpus: Iterable<string>): WordTokenizer {
    const words = new Set<string>();
    const specials = new Set<string>(SPECIAL_TOKENS);
    for (const text of corpus) for (const w of splitWords(text)) if (!specials.has(w)) words.add(w);
    return new WordTokenizer([...SPECIAL_TOKENS, ...[...words].sort()]);
  }

  static fromJSON(json: TokenizerJson): WordTokenizer {
    if (json?.kind !== 'word' || !Array.isArray(json.vocab)) throw new Error(`tokenizer JSON: expected { kind: 'word', vocab: string[] }`);
    return new WordTokenizer(json.vocab);
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  encode(text: string): number[] {
    const unk = this.specials['<unk>'];
    return splitWords(text).map((w) => this.ids.get(w) ?? unk);
  }

  decode(ids: readonly number[], options: { skipSpecial?: boolean } = {}): string {
    const words: string[] = [];
    for (const id of ids) {
      const word = this.vocab[id];
      if (word === undefined) throw new Error(`WordTokenizer.decode: id ${id} is outside the vocabulary (size ${this.vocab.length})`);
      if (options.skipSpecial && id < SPECIAL_TOKENS.length) continue;
      words.push(word);
    }
    // Re-attach punctuation to the word before it.
    return words
      .join(' ')
      .replace(/ ([.,;:?!)])/g, '$1')
      .replace(/\( /g, '(');
  }

  toJSON(): TokenizerJson {
    return { kind: 'word', vocab: [...this.vocab] };
  }
}

/** The tokenizer a unified-model checkpoint carries in its metadata (`tokenizer`, see UnifiedModel.save); errors name `source`. */
export function tokenizerFromMetadata(metadata: Readonly<Record<string, string>>, source: string): Tokenizer {
  if (!metadata.tokenizer) throw new Error(`${source}: no tokenizer in the checkpoint metadata`);
  try {
    return WordTokenizer.fromJSON(JSON.parse(metadata.tokenizer) as TokenizerJson);
  } catch (error) {
    throw new Error(`${source}: ${(error as Error).message}`);
  }
}

/** Lower-cased words, punctuation split off; special tokens stay whole. */
export function splitWords(text: string): string[] {
  return text
    .toLowerCase()
    .replace(PUNCTUATION, ' $1 ')
    .split(/\s+/)
    .filter((w) => w.length > 0);
}
