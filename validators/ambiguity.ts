// Ambiguous questions: the same normalised question with a different answer. A reader (or a
// retriever) cannot tell which answer is meant, so the later pair is rejected and names the first.
import { contentId } from '../lib/hash.js';
import { normalizeForMatch } from './checks.js';
import { MemoryMaps, packId, packKey, sameBytes, unpackId, type ByteMap, type ByteMaps } from './dedup.js';

/** The key a question is compared by: case-folded, whitespace-collapsed, trailing punctuation dropped. */
export const questionKey = (question: string) => contentId('question', normalizeForMatch(question).replace(/[\s?.!]+$/, ''));

/**
 * Who holds each question. What it remembers lives in `maps` (on the heap by default, on disk for a
 * run's pair sink): question key → the holder's qa key and id, and qa key → its question key.
 */
export class QuestionIndex {
  private byQuestion: ByteMap;
  private questionOf: ByteMap;
  ambiguous = 0;

  constructor(maps: ByteMaps = new MemoryMaps()) {
    this.byQuestion = maps.map('questions.byQuestion', { maxValue: 35 });
    this.questionOf = maps.map('questions.questionOf', { maxValue: 17 });
  }

  private hold(k: Buffer, qaKey: Buffer, id: string): void {
    this.byQuestion.put(k, Buffer.concat([Buffer.from([qaKey.length]), qaKey, packId(id)]));
    this.questionOf.put(qaKey, k);
  }

  remember(question: string, qaKey: string, id: string): void {
    this.hold(packKey(questionKey(question)), packKey(qaKey), id);
  }

  /** A pair about to be replaced (its evidence changed): its successor may ask the same question. */
  forget(qaKey: string): void {
    const qa = packKey(qaKey);
    const k = this.questionOf.get(qa);
    if (k !== undefined) {
      const held = this.byQuestion.peek(k);
      if (held && sameBytes(heldQaKey(held), qa)) this.byQuestion.delete(k);
    }
    this.questionOf.delete(qa);
  }

  /** The id of a pair that asks the same question with another answer, or null (and the question is taken). */
  check(question: string, qaKey: string, id: string): string | null {
    const k = packKey(questionKey(question));
    const qa = packKey(qaKey);
    const held = this.byQuestion.peek(k);
    if (held && !sameBytes(heldQaKey(held), qa)) {
      this.ambiguous++;
      return unpackId(held.subarray(1 + held[0]!));
    }
    this.hold(k, qa, id);
    return null;
  }
}

const heldQaKey = (held: Uint8Array) => held.subarray(1, 1 + held[0]!);
