// A JSONL file of records with ids, read whole and checked line by line: every bad line is named by
// its number, in one error, so a person can fix the file in one pass.
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { UserError } from './errors.js';

/**
 * The records of a JSONL file (blank lines are nothing), each parsed with `schema`; ids must be
 * unique. `what` names the file in errors ("eval set", "grades file"), `item` a record ("question").
 */
export function readJsonlRecords<S extends z.ZodType<{ id: string }>>(path: string, schema: S, what: string, item: string): { raw: string; records: z.infer<S>[] } {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const records: z.infer<S>[] = [];
  const ids = new Set<string>();
  const problems: string[] = [];
  raw.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (e) {
      problems.push(`line ${i + 1}: not JSON (${(e as Error).message})`);
      return;
    }
    const r = schema.safeParse(json);
    if (!r.success) {
      problems.push(`line ${i + 1}: ${r.error.issues.map((x) => `${x.path.join('.') || `(${item})`}: ${x.message}`).join('; ')}`);
      return;
    }
    const rec = r.data as z.infer<S>;
    if (ids.has(rec.id)) problems.push(`line ${i + 1}: duplicate id ${rec.id}`);
    ids.add(rec.id);
    records.push(rec);
  });
  if (problems.length) throw new UserError(`${what} ${path} has ${problems.length} bad line(s):\n  ${problems.slice(0, 20).join('\n  ')}`);
  return { raw, records };
}
