// The node's privacy ledger on disk (privacy-guard.ts): JSON, mode 0600, replaced by rename
// so a crash leaves the old ledger or the new one, never half of one.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PrivacyBudgetLedger } from '../privacy/dp/budget.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { type LedgerStore, parseLedger } from './privacy-guard.js';

export function ledgerFileStore(file: string): LedgerStore {
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new PrivacyBudgetLedger();
        throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `privacy ledger ${file} is unreadable; refusing to train rather than forget what was spent`, { details: { field: 'ledgerFile' }, cause: error });
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (error) {
        throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `privacy ledger ${file} is not JSON; refusing to train rather than forget what was spent`, { details: { field: 'ledgerFile' }, cause: error });
      }
      return parseLedger(json, file);
    },
    async save(ledger) {
      await mkdir(dirname(file), { recursive: true });
      const temp = `${file}.tmp`;
      await writeFile(temp, JSON.stringify(ledger.toJSON()), { mode: 0o600 });
      await rename(temp, file);
    },
  };
}
