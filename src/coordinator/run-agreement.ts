// The cooperation agreement a run was created under: the version in force at its creation,
// read from the stored versions, so that its valuation, benefit-sharing and footprint
// clauses keep applying to that run after later amendments. Runs created before any
// version was stored take the earliest one; without any stored agreement, nothing applies.

import type { Agreement } from '../governance/agreement.js';
import type { GovernanceStore, RunRecord } from '../storage/storage.js';

export type RunAgreementTerms = Pick<Agreement, 'valuation' | 'benefitSharing' | 'footprint'>;

export async function agreementOfRun(storage: Partial<Pick<GovernanceStore, 'listAgreementVersions'>>, run: Pick<RunRecord, 'createdAt'>): Promise<RunAgreementTerms | undefined> {
  if (!storage.listAgreementVersions) return undefined;
  const versions = await storage.listAgreementVersions();
  return (versions.filter((v) => v.adoptedAt <= run.createdAt).at(-1) ?? versions[0])?.agreement;
}
