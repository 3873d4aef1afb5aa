import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

// Local stand-ins for the services channels talk to. Each checks what the real service requires.

export interface Received {
  headers: IncomingMessage['headers'];
  path: string;
  body: Record<string, unknown>;
  raw: string;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

/**
 * Slack Web API stand-in: POST /api/chat.postMessage with `Authorization: Bearer <token>`, form or JSON body,
 * `channel` and `text` or `blocks` required; answers HTTP 200 with {ok, error} like Slack. POST /api/auth.test
 * answers who the token is (counted in `checks`).
 */
export async function slackStandIn(token: string) {
  const received: Received[] = [];
  const counts = { checks: 0 };
  const server = createServer(async (req, res) => {
    const raw = await readBody(req);
    const reply = (o: Record<string, unknown>) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(o));
    };
    if (req.method === 'POST' && req.url === '/api/auth.test') {
      counts.checks++;
      if (req.headers.authorization !== `Bearer ${token}`) return reply({ ok: false, error: 'invalid_auth' });
      return reply({ ok: true, url: 'https://kuzet-ops.slack.com/', team: 'kuzet-ops', user: 'kuzet', team_id: 'T0KUZET', user_id: 'U0KUZET' });
    }
    if (req.method !== 'POST' || req.url !== '/api/chat.postMessage') return reply({ ok: false, error: 'unknown_method' });
    if (req.headers.authorization !== `Bearer ${token}`) return reply({ ok: false, error: 'invalid_auth' });
    const ct = req.headers['content-type'] ?? '';
    let body: Record<string, unknown>;
    if (ct.startsWith('application/json')) body = JSON.parse(raw);
    else if (ct.startsWith('application/x-www-form-urlencoded')) body = Object.fromEntries(new URLSearchParams(raw));
    else return reply({ ok: false, error: 'invalid_form_data' });
    if (typeof body.blocks === 'string') body.blocks = JSON.parse(body.blocks);
    if (!body.channel) return reply({ ok: false, error: 'channel_not_found' });
    if (!body.text && !body.blocks) return reply({ ok: false, error: 'no_text' });
    received.push({ headers: req.headers, path: req.url, body, raw });
    reply({ ok: true, channel: body.channel, ts: `1700000000.${String(received.length).padStart(6, '0')}` });
  });
  const url = await listen(server);
  return { url: `${url}/api/`, received, counts, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Telegram Bot API stand-in: POST /bot<token>/sendMessage, JSON with chat_id and text; GET /bot<token>/getMe (counted in `checks`). */
export async function telegramStandIn(token: string, failWith?: { status: number; description: string }) {
  const received: Received[] = [];
  const counts = { checks: 0 };
  const server = createServer(async (req, res) => {
    const raw = await readBody(req);
    const reply = (status: number, o: Record<string, unknown>) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(o));
    };
    if (req.url?.endsWith('/getMe')) {
      counts.checks++;
      if (req.url !== `/bot${token}/getMe`) return reply(401, { ok: false, error_code: 401, description: 'Unauthorized' });
      if (failWith) return reply(failWith.status, { ok: false, error_code: failWith.status, description: failWith.description });
      return reply(200, { ok: true, result: { id: 123, is_bot: true, first_name: 'kuzet', username: 'kuzet_bot' } });
    }
    if (req.url !== `/bot${token}/sendMessage`) return reply(404, { ok: false, error_code: 404, description: 'Not Found' });
    if (failWith) return reply(failWith.status, { ok: false, error_code: failWith.status, description: failWith.description });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw);
    } catch {
      return reply(400, { ok: false, error_code: 400, description: 'Bad Request: invalid JSON' });
    }
    if (!body.chat_id || typeof body.text !== 'string' || !body.text) return reply(400, { ok: false, error_code: 400, description: 'Bad Request: chat_id and text required' });
    received.push({ headers: req.headers, path: req.url, body, raw });
    reply(200, { ok: true, result: { message_id: received.length, chat: { id: body.chat_id }, text: body.text } });
  });
  const url = await listen(server);
  return { url, received, counts, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** A plain HTTP receiver that records requests and answers `status`. */
export async function httpReceiver(status = 200) {
  const received: Received[] = [];
  const server = createServer(async (req, res) => {
    const raw = await readBody(req);
    received.push({ headers: req.headers, path: req.url ?? '', body: raw ? JSON.parse(raw) : {}, raw });
    res.writeHead(status);
    res.end();
  });
  const url = await listen(server);
  return { url, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

export interface Mail {
  from: string;
  to: string[];
  data: string;
}

/** A real SMTP server (smtp-server) on an ephemeral port; messages are read back from `mails`. */
export async function smtpStandIn() {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), data: Buffer.concat(chunks).toString('utf8') });
        cb();
      });
    },
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.server.address() as AddressInfo).port)));
  return { port, mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** A port nothing listens on (connection refused): SMTP "down". */
export async function closedPort(): Promise<number> {
  const s = createNetServer();
  const port = await new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
