// Ambiguous questions: the same normalised question with a different answer. A reader (or a
// retriever) cannot tell which answer is meant, so the later pair is rejected and names the first.
import { contentId } from '../lib/hash.js';
import { normalizeForMatch } from './checks.js';

/** The key a question is compared by: case-folded, whitespace-collapsed, trailing punctuation dropped. */
export const questionKey = (question: string) => contentId('question', normalizeForMatch(question).replace(/[\s?.!]+$/, ''));

export class QuestionIndex {
  /** question key → the qa key and id of the pair that holds the question. */
  private byQuestion = new Map<string, { qaKey: string; id: string }>();
  private questionOf = new Map<string, string>();
  ambiguous = 0;

  remember(question: string, qaKey: string, id: string): void {
    const k = questionKey(question);
    this.byQuestion.set(k, { qaKey, id });
    this.questionOf.set(qaKey, k);
  }

  /** A pair about to be replaced (its evidence changed): its successor may ask the same question. */
  forget(qaKey: string): void {
    const k = this.questionOf.get(qaKey);
    if (k !== undefined && this.byQuestion.get(k)?.qaKey === qaKey) this.byQuestion.delete(k);
    this.questionOf.delete(qaKey);
  }

  /** The id of a pair that asks the same question with another answer, or null (and the question is taken). */
  check(question: string, qaKey: string, id: string): string | null {
    const k = questionKey(question);
    const held = this.byQuestion.get(k);
    if (held && held.qaKey !== qaKey) {
      this.ambiguous++;
      return held.id;
    }
    this.byQuestion.set(k, { qaKey, id });
    this.questionOf.set(qaKey, k);
    return null;
  }
}
