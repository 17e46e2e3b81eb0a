// `qaforge feedback`: review flagged answers of the query service — list, show, propose corrections,
// correct by hand, accept (stage the corrected pair), reject.
import { Command, InvalidArgumentError, Option } from 'commander';
import type { ReviewStatus } from '../datasets/corrections.js';
import { openChatModels } from '../lib/models/index.js';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import type { Stores } from '../datasets/store.js';
import {
  acceptCorrection,
  correctManually,
  FEEDBACK_REASONS,
  listFeedback,
  proposeCorrections,
  rejectCorrection,
  REVIEW_STATUSES,
  showFeedback,
  type FeedbackDetail,
  type FeedbackItem,
  type ReviewDeps,
} from '../serve/corrections.js';
import { context, positiveInt, print, withStores } from './cli-common.js';

const listOf =
  <T extends string>(name: string, allowed: readonly T[]) =>
  (v: string, prev: T[] = []): T[] => {
    const items = v.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = items.filter((s) => !(allowed as readonly string[]).includes(s));
    if (bad.length || !items.length) throw new InvalidArgumentError(`${name}: unknown ${bad.join(', ') || '(none)'}: choose from ${allowed.join(', ')}`);
    return [...prev, ...(items as T[])];
  };

const clip = (s: string | null, n: number) => (s === null ? '-' : s.length > n ? `${s.slice(0, n - 1)}…` : s);

function formatList(items: FeedbackItem[]): string {
  if (!items.length) return 'no flagged answers match';
  const head = ['feedback', 'status', 'reason', 'origin', 'at', 'question'];
  const rows = items.map((f) => [f.feedback_id, f.status, f.reason ?? '-', f.origin ?? '-', f.at, clip(f.question, 70)]);
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(width[i]!))).join('  ')).join('\n');
}

function formatDetail(d: FeedbackDetail): string {
  const lines = [
    `feedback   ${d.feedback_id} (${d.rating}${d.reason ? `, ${d.reason}` : ''}) by ${d.key_name} at ${d.at}${d.synthetic ? ' [synthetic]' : ''}`,
    `query      ${d.query_id}`,
    `status     ${d.status}${d.origin ? ` (${d.origin})` : ''}${d.promoted_version !== null ? `, promoted in version ${d.promoted_version}` : ''}`,
    `question   ${d.question ?? '(not in the query log yet)'}`,
    `answer     ${d.abstained ? '(abstained)' : (d.answer ?? '-').split('\n').join('\n           ')}`,
    'citations',
    ...(d.citations as { pair_id?: string; path?: string | null; start_line?: number | null; end_line?: number | null; quote?: string }[]).map(
      (c) => `  ${c.pair_id} ${c.path ?? ''}${c.start_line ? `:${c.start_line}-${c.end_line}` : ''} ${JSON.stringify(clip(c.quote ?? '', 80))}`,
    ),
    `comment    ${d.comment ?? '-'}`,
    `correction ${d.correction ?? '-'}`,
    `disputed   ${d.disputed.join(', ') || '-'}`,
  ];
  if (d.pair) lines.push(`candidate  ${d.pair.id}${d.pair_id ? '' : ' (failed)'}`, `  A: ${d.pair.answer.split('\n').join('\n     ')}`, ...d.pair.evidence.map((e) => `  evidence: ${JSON.stringify(clip(e, 100))}`));
  if (d.detail?.rejected_by === 'reviewer') lines.push(`rejected   by a reviewer${d.detail.reason ? `: ${d.detail.reason}` : ''}`);
  for (const f of d.detail?.failed ?? []) lines.push(`failed     ${f.origin ?? 'review'}: ${f.check} (${f.reason})${f.detail ? `: ${clip(f.detail, 160)}` : ''}`);
  return lines.join('\n');
}

/** The review's model and limits, opened for one command and closed after it. */
async function withReview<T>(cfg: Config, log: Logger, stores: Stores, fn: (deps: ReviewDeps) => Promise<T>): Promise<T> {
  const models = openChatModels(cfg);
  if (models.choice.sameModelNote) log.warn(models.choice.sameModelNote);
  try {
    return await fn({ stores, models, limits: cfg.limits, judgeMinScore: cfg.models.judgeMinScore, log });
  } finally {
    await models.close();
  }
}

export function registerFeedbackCommands(program: Command): void {
  const fb = program.command('feedback').description("review flagged answers of `qaforge serve`: list, show, propose corrections, correct, accept (stage the corrected pair), reject");

  fb.command('list')
    .description('down-rated feedback, oldest first, with its review status (pending | proposed | accepted | rejected)')
    .option('--status <list>', `only these statuses, comma-separated (${REVIEW_STATUSES.join(', ')})`, listOf('--status', REVIEW_STATUSES))
    .option('--reason <list>', `only these reasons, comma-separated (${FEEDBACK_REASONS.join(', ')})`, listOf('--reason', FEEDBACK_REASONS))
    .option('--synthetic', 'include feedback marked synthetic (load simulations)')
    .option('--json', 'print JSON')
    .action(async (o: { status?: ReviewStatus[]; reason?: (typeof FEEDBACK_REASONS)[number][]; synthetic?: boolean; json?: boolean }, cmd: Command) => {
      const { cfg } = context(cmd);
      await withStores(cfg, async (stores) => {
        const items = await listFeedback(stores, { status: o.status, reason: o.reason, synthetic: o.synthetic });
        print(o.json ? items : formatList(items));
      });
    });

  fb.command('show <id>')
    .description('one feedback: the question, the answer and its citations, the comment and correction, the review and its candidate')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }, cmd: Command) => {
      const { cfg } = context(cmd);
      await withStores(cfg, async (stores) => {
        const d = await showFeedback(stores, id);
        print(o.json ? d : formatDetail(d));
      });
    });

  fb.command('propose')
    .description('for each pending flag: the generator quotes the cited sources, revises the answer from the quotes; that and the user\'s correction are checked and judged like any model-written pair')
    .option('--limit <n>', 'at most this many flags', positiveInt('--limit'))
    .action(async (o: { limit?: number }, cmd: Command) => {
      const { cfg, log } = context(cmd);
      await withStores(cfg, (stores) => withReview(cfg, log, stores, async (deps) => print(await proposeCorrections(deps, { limit: o.limit }))));
    });

  fb.command('correct <id>')
    .description('a reviewer\'s corrected answer: checked and judged like the other candidates (origin manual); proposed when it passes')
    .requiredOption('--answer <text>', 'the corrected answer')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { answer: string; json?: boolean }, cmd: Command) => {
      const { cfg, log } = context(cmd);
      await withStores(cfg, (stores) =>
        withReview(cfg, log, stores, async (deps) => {
          const d = await correctManually(deps, id, o.answer);
          print(o.json ? d : formatDetail(d));
        }),
      );
    });

  fb.command('accept <id>')
    .description('accept the proposed pair: the corrections source stages it (validated); at its promotion the pairs the flagged answer cited are retired as disputed')
    .action(async (id: string, _o, cmd: Command) => {
      const { cfg, log } = context(cmd);
      await withStores(cfg, async (stores) => print(await acceptCorrection(stores, id, { cfg, log })));
    });

  fb.command('reject <id>')
    .description('reject the review of a flag (pending or proposed): nothing is staged')
    .addOption(new Option('--reason <text>', 'why (kept with the review)'))
    .option('--json', 'print JSON')
    .action(async (id: string, o: { reason?: string; json?: boolean }, cmd: Command) => {
      const { cfg } = context(cmd);
      await withStores(cfg, async (stores) => {
        const d = await rejectCorrection(stores, id, o.reason ?? null);
        print(o.json ? d : formatDetail(d));
      });
    });
}
