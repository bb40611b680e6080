// The consortium's tokenizer for text: a hashing tokenizer ("the hashing trick", Weinberger et
// al. 2009). Words map to ids by a fixed hash, so every member tokenizes the same way with no
// vocabulary to agree on — nothing built from anyone's text is ever shared, so no member's
// rare words can leak through a vocabulary. The price is that distinct words may share an
// id (collisions); with vocabSize well above the words that matter, the loss is small.
//
// Words are runs of letters and digits (Unicode), lowercased, at least two characters long;
// the first `length` of them become ids in [reserved, vocabSize), and the rest of the
// sequence is padding (0). With `cls` the first position holds the [CLS] id (1), for
// transformer encoders that read the sequence off that position.

export const PAD_ID = 0;
export const CLS_ID = 1;
/** Ids below this are special (padding, [CLS]). */
export const RESERVED_IDS = 2;

export interface TokenizerOptions {
  vocabSize: number;
  length: number;
  cls?: boolean;
}

/** FNV-1a, 32-bit, over the UTF-16 code units of `word`. */
export function fnv1a(word: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) {
    hash ^= word.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

const WORD = /[\p{L}\p{N}]{2,}/gu;

/** The word ids of `text`, padded or cut to `length`, into `out` at `offset`. */
export function tokenizeInto(text: string, options: TokenizerOptions, out: Float32Array, offset: number): void {
  const buckets = options.vocabSize - RESERVED_IDS;
  if (!(buckets >= 1)) throw new RangeError(`vocabSize must exceed ${RESERVED_IDS} (padding and [CLS] are reserved)`);
  let position = 0;
  if (options.cls) out[offset + position++] = CLS_ID;
  for (const match of text.toLowerCase().matchAll(WORD)) {
    if (position >= options.length) break;
    out[offset + position++] = RESERVED_IDS + (fnv1a(match[0]) % buckets);
  }
  out.fill(PAD_ID, offset + position, offset + options.length);
}

export function tokenize(text: string, options: TokenizerOptions): Float32Array {
  const out = new Float32Array(options.length);
  tokenizeInto(text, options, out, 0);
  return out;
}
