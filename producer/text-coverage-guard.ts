import { charactersOutsideTypographyFonts, FleetError, type GenerateRequest } from '../contract/index.js';
import type { RouteDecision } from '../router/index.js';

/** Characters a refusal names at most (the rest are counted). */
const NAMED_CHARACTERS = 12;

/**
 * Refuses (`E_FONT_COVERAGE`) a request routed to the typography lane whose text to draw has characters none of the
 * lane's fonts covers: drawn, they would be empty boxes. Other lanes draw no text, so a policy rule on `script` that
 * sends such text elsewhere is followed and nothing is refused.
 */
export function assertTextDrawable(request: GenerateRequest, decision: RouteDecision): void {
  const text = decision.features.text;
  if (decision.lane !== 'typography' || text === null) return;
  const missing = charactersOutsideTypographyFonts(text);
  if (missing.length === 0) return;
  const field = request.text === undefined ? 'prompt' : 'text.content';
  const named = missing.slice(0, NAMED_CHARACTERS).map((c) => `${c} (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`);
  const more = missing.length > NAMED_CHARACTERS ? ` and ${missing.length - NAMED_CHARACTERS} more` : '';
  throw new FleetError(
    'E_FONT_COVERAGE',
    `${field}: no font of the typography lane draws ${named.join(', ')}${more}; they would come out as empty boxes (the lane's fonts are DejaVu: Latin, Greek, Cyrillic, Arabic, Hebrew, no CJK)`,
    { field, details: { characters: missing, scripts: decision.features.textScripts } },
  );
}
