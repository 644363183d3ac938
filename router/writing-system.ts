/**
 * Writing systems, as routing and drift see them. A character belongs to one by its Unicode Script property;
 * CJK is Han, Hiragana, Katakana, Hangul and Bopomofo together (one font family covers them or not). `other` is
 * any other letter (Thai, Devanagari, …). Digits, punctuation, symbols and emoji (Script=Common or Inherited) belong
 * to none: `"2027!"` has no writing system.
 */
export const WRITING_SYSTEMS = ['latin', 'cyrillic', 'greek', 'arabic', 'hebrew', 'cjk', 'other'] as const;
export type WritingSystem = (typeof WRITING_SYSTEMS)[number];

// One pass over the text: each capture group is a run of one writing system (group n is WRITING_SYSTEMS[n - 1]).
// CJK goes by Script_Extensions: the kana length mark ー and the ideographic punctuation 、。 are Script=Common but
// are only ever written in CJK text (and no Latin font draws them).
const RUNS =
  /(\p{Script=Latin}+)|(\p{Script=Cyrillic}+)|(\p{Script=Greek}+)|(\p{Script=Arabic}+)|(\p{Script=Hebrew}+)|([\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}\p{scx=Bopomofo}]+)|(\p{L}+)/gu;

/** Characters per writing system in `text` (only systems that occur). */
export function countWritingSystems(text: string): Map<WritingSystem, number> {
  const counts = new Map<WritingSystem, number>();
  for (const match of text.matchAll(RUNS)) {
    const group = match.findIndex((run, i) => i > 0 && run !== undefined);
    const system = WRITING_SYSTEMS[group - 1]!;
    counts.set(system, (counts.get(system) ?? 0) + [...match[0]].length);
  }
  return counts;
}

const ASCII_ONLY = /^[\x00-\x7f]*$/;
const ASCII_LETTER = /[A-Za-z]/;

/** The writing systems `text` uses, most characters first (ties in `WRITING_SYSTEMS` order); empty when it has no letters. */
export function writingSystemsOf(text: string): WritingSystem[] {
  // Most prompts are ASCII: their only letters are Latin, and the script scan costs many times this test.
  if (ASCII_ONLY.test(text)) return ASCII_LETTER.test(text) ? ['latin'] : [];
  const counts = countWritingSystems(text);
  return WRITING_SYSTEMS.filter((s) => counts.has(s)).sort((a, b) => counts.get(b)! - counts.get(a)!);
}

const PICTOGRAPH = /\p{Extended_Pictographic}/u;

/** Whether `text` holds an emoji or another pictograph (Unicode's Extended_Pictographic: 😀, ❤, ☀). */
export function hasPictograph(text: string): boolean {
  return PICTOGRAPH.test(text);
}
