// Before every train and evaluate task, a member whose data is validated against the
// consortium schema reads its file again: if its bytes are what the node loaded (and
// enrolled with), the task runs; if the file changed, it is validated again and the task is
// declined either way — with every problem if it no longer matches the schema, or asking
// for a restart (which re-enrolls with the new descriptor) if it does. A node never trains on
// data other than what it validated and described. (Analytics tasks revalidate their own,
// node/analytics-handler.ts.)

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { loadMemberRecords, parseDataSpec } from '../data/spec.js';
import { ConcordError, ErrorCode, isConcordError } from '../protocol/errors.js';
import type { TaskHandler } from './member.js';

async function fileHash(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

export async function withDataRevalidation(handler: TaskHandler, spec: string, log: (line: string) => void = () => undefined): Promise<TaskHandler> {
  const path = parseDataSpec(spec).path!;
  const enrolled = await fileHash(path);
  const check = async (): Promise<void> => {
    let now: string;
    try {
      now = await fileHash(path);
    } catch (cause) {
      throw new ConcordError(ErrorCode.FORBIDDEN, `the local data file ${path} cannot be read any more: ${(cause as Error).message}`, { cause });
    }
    if (now === enrolled) return;
    try {
      await loadMemberRecords(spec);
    } catch (error) {
      const reason = isConcordError(error) ? error.message : String(error);
      log(`local data changed and no longer matches the schema: ${reason}`);
      throw new ConcordError(ErrorCode.FORBIDDEN, reason, { details: isConcordError(error) ? error.details : {}, cause: error });
    }
    throw new ConcordError(ErrorCode.FORBIDDEN, `the local data file ${path} changed since this node validated and enrolled it; restart the node to validate it and enroll with its new descriptor`);
  };
  return {
    ...handler,
    async train(task, global) {
      await check();
      return handler.train(task, global);
    },
    async evaluate(task, global) {
      await check();
      return handler.evaluate(task, global);
    },
  };
}
