// The deterministic layers a model-written pair passes before a judge sees it: the per-pair checks,
// answer support (validators/support.ts) and injection screening (validators/injection.ts). No single
// model output decides: a pair is staged only when every layer and then the judge pass it.
import type { QAPair } from '../datasets/schemas.js';
import { validateCandidate, type LengthLimits } from './checks.js';
import { checkNoInjection } from './injection.js';
import { checkAnswerSupported } from './support.js';

export function checkModelPair(pair: QAPair, limits: LengthLimits): QAPair {
  const checked = validateCandidate(pair, limits);
  checked.verdicts.push(checkAnswerSupported(checked), checkNoInjection(checked.context));
  return checked;
}
