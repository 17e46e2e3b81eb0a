// The dashboard page: /dashboard (dashboard/public/index.html) and its files under /dashboard/*, and the
// chart library from node_modules under /dashboard/vendor/ (no CDN: the page works offline). Static,
// so no key: the page asks for an admin key itself and sends it to /api/dashboard/*.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { projectFile } from '../lib/paths.js';

const PUBLIC_DIR = projectFile('dashboard/public/');
const require = createRequire(import.meta.url);
/** Files of npm packages the page loads, by the name it asks for: [directory, file]. Only these. */
const VENDOR: Record<string, [string, string]> = {
  'echarts.esm.min.mjs': [join(dirname(require.resolve('echarts/package.json')), 'dist'), 'echarts.esm.min.mjs'],
};

/** Everything from this origin only: no inline script or style, no other host, no framing. */
export const DASHBOARD_CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

function secure(reply: FastifyReply, cache: string): FastifyReply {
  return reply
    .header('content-security-policy', DASHBOARD_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', cache);
}

export interface DashboardStaticOptions {
  /** Called when the page is served: the API starts reading its indexes while the user types the key. */
  onOpen?: () => void;
}

export async function dashboardStatic(app: FastifyInstance, opts: DashboardStaticOptions): Promise<void> {
  await app.register(fastifyStatic, { root: PUBLIC_DIR, serve: false, decorateReply: true });
  const page = async (_req: unknown, reply: FastifyReply) => {
    opts.onOpen?.();
    return secure(reply, 'no-cache').type('text/html; charset=utf-8').sendFile('index.html', PUBLIC_DIR, { cacheControl: false });
  };
  app.get('/dashboard', { config: { open: true } }, page);
  app.get('/dashboard/', { config: { open: true } }, page);
  app.get<{ Params: { name: string } }>('/dashboard/vendor/:name', { config: { open: true } }, async (req, reply) => {
    const v = VENDOR[req.params.name];
    if (!v) return reply.status(404).send({ error: { message: `no vendor file ${req.params.name}`, code: 'not_found' } });
    return secure(reply, 'public, max-age=86400').type('text/javascript; charset=utf-8').sendFile(v[1], v[0], { cacheControl: false });
  });
  // The page's own modules and styles (dotfiles and paths out of the folder are refused by @fastify/static).
  app.get<{ Params: { '*': string } }>('/dashboard/*', { config: { open: true } }, async (req, reply) => {
    const name = req.params['*'];
    if (!/^[a-z0-9][a-z0-9._/-]*\.(js|css|svg)$/i.test(name) || name.includes('..')) return reply.status(404).send({ error: { message: `no dashboard file ${name}`, code: 'not_found' } });
    return secure(reply, 'no-cache').sendFile(name, PUBLIC_DIR, { cacheControl: false });
  });
}
