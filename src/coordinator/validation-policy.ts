// Update validation as a run extension: the run's strategy is wrapped so each update is
// screened (shape, finiteness, delta norm against the round's median) before aggregation,
// with a reputation per member (strategies/validation.ts).

import { withUpdateValidation } from '../strategies/validation.js';
import type { RunExtension } from './run-compiler.js';

export const updateValidationExtension: RunExtension = {
  field: 'updateValidation',
  wrap: (config, strategy) => withUpdateValidation(strategy, config.updateValidation!),
};
